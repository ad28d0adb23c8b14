// SPDX-License-Identifier: MIT OR Apache-2.0
// Built by the find_package consumer when the install has the Asio bridge: its headers and
// Asio's must be found through the package alone (no include path of the building machine).
#include <stakker/asio/asio.hpp>
#include <stakker/stakker.hpp>

int main() {
  stakker::asio::net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  int got = 0;
  stakker::asio::net::post(stakker::asio::executor_of(rt), [&] {
    got = 42;
    rt.shutdown(stakker::stop_cause::stopped());
  });
  loop.run();
  return got == 42 ? 0 : 1;
}
