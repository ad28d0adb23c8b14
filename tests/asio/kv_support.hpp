// SPDX-License-Identifier: MIT OR Apache-2.0
// A key-value example server on a runtime driven by an io_loop, for the tests that talk to
// it over loopback TCP.
#pragma once

#include <gtest/gtest.h>

#include <chrono>

#include "asio_kv/server.hpp"
#include "asio_kv/teardown.hpp"
#include "stakker/stakker.hpp"

namespace kv_test {

namespace net = stakker::asio::net;

struct server_fixture : ::testing::Test {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop{ioc, rt};
  kv::server_stats stats;
  stakker::actor_own<kv::server> srv;
  net::ip::tcp::endpoint at;

  // Starts the server on a free loopback port (`at`), with `limits`.
  void start(kv::server_limits limits = {}) {
    using namespace std::chrono_literals;
    srv = stakker::make_actor<&kv::server::init_limited>(
        rt, stakker::ret_nop<stakker::stop_cause>(),
        net::ip::tcp::endpoint(net::ip::address_v4::loopback(), 0), limits, &stats);
    loop.request_run();
    ioc.poll();  // the server's init: bound to a free port
    const auto port = stakker::inspect(rt, srv, [](kv::server& s) { return s.port(); });
    ASSERT_TRUE(port.has_value());
    at = net::ip::tcp::endpoint(net::ip::address_v4::loopback(), *port);
    // A test that hangs fails instead.
    rt.after(60s, [](stakker::core& c) { c.shutdown(stakker::stop_cause::killed("timed out")); });
  }
  // Drops the server, and lets the operations its connections cancel end while the loop is
  // still there (see asio_kv/teardown.hpp).
  void TearDown() override {
    srv.reset();
    kv::drain(loop);
  }
  // Runs until the runtime shuts down; whether that was the test's own doing. The runtime
  // can then run again.
  bool run() {
    const stakker::stop_cause cause = loop.run();
    rt.take_shutdown_cause();
    return !cause.has_error();
  }
};

}  // namespace kv_test
