// SPDX-License-Identifier: MIT OR Apache-2.0
// Built by the find_package consumer when the install has the NATS bridge: its headers and
// the NATS C client's must be found through the package alone. Connecting to a port nobody
// listens on must fail through `ready`, with the connection closed.
#include <stakker/loop/epoll_loop.hpp>
#include <stakker/nats/nats.hpp>
#include <stakker/stakker.hpp>

#include <chrono>
#include <optional>

int main() {
  stakker::runtime rt;
  stakker::loop::epoll_loop loop(rt);
  stakker::nats::options o;
  o.servers = {"nats://127.0.0.1:1"};
  o.timeout = std::chrono::milliseconds(500);
  std::optional<bool> ok;
  auto c = stakker::nats::connection::connect(
      rt, o, stakker::fwd_nop<stakker::nats::event>(),
      stakker::ret_do<stakker::coro::result<void>>(
          [&](std::optional<stakker::coro::result<void>> r) { ok = r && r->has_value(); }));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ok && std::chrono::steady_clock::now() < deadline)
    loop.turn(std::chrono::milliseconds(10));
  return ok && !*ok && c->is_closed() ? 0 : 1;
}
