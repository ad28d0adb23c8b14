// SPDX-License-Identifier: MIT OR Apache-2.0
// The key-value example's server under its limits (kv::server_limits): connections beyond
// max_connections, value memory taken as bytes arrive, idle and I/O timeouts.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>

#include "asio/asio_support.hpp"
#include "asio/kv_support.hpp"
#include "asio_kv/server.hpp"
#include "asio_kv/teardown.hpp"
#include "stakker/coro/sleep.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/stakker.hpp"

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::asio::use_task;
using stakker::coro::task;
using tcp = net::ip::tcp;

// Waits `delay`, connects, sends `request` (keeping its side open) and gives everything
// received until the server closes, with the time that took.
struct outcome {
  std::string got;
  stakker::duration took{};
};
task<outcome> hold(stakker::core* c, net::io_context* ioc, tcp::endpoint at, std::string request,
                   stakker::duration delay) {
  co_await stakker::coro::sleep_for(*c, delay);
  tcp::socket s(*ioc);
  co_await s.async_connect(at, use_task);
  const auto start = stakker::clock::now();
  if (!request.empty()) co_await net::async_write(s, net::buffer(request), use_task);
  outcome o;
  std::array<char, 4096> chunk;
  for (;;) {
    bool end = false;
    try {
      const std::size_t n = co_await s.async_read_some(net::buffer(chunk), use_task);
      o.got.append(chunk.data(), n);
    } catch (const stakker::asio::system_error&) {
      end = true;  // the end of the stream, or a reset
    }
    if (end) break;
  }
  o.took = stakker::clock::now() - start;
  co_return o;
}

struct KvLimits : kv_test::server_fixture {
  // Runs the clients (each `request` sent after its delay) until all are done.
  std::vector<outcome> run_clients(std::vector<std::pair<std::string, stakker::duration>> clients) {
    std::vector<outcome> out(clients.size());
    std::size_t left = clients.size();
    for (std::size_t i = 0; i < clients.size(); ++i) {
      stakker::coro::spawn(rt, hold(&rt, &ioc, at, clients[i].first, clients[i].second),
                           stakker::ret_do<outcome>([&, i](std::optional<outcome> o) {
                             if (o) out[i] = std::move(*o);
                             if (--left == 0) rt.shutdown(stakker::stop_cause::stopped());
                           }));
    }
    EXPECT_TRUE(run());
    return out;
  }
};

TEST_F(KvLimits,
       a_connection_beyond_max_connections_is_told_busy_and_closed_while_the_others_are_served) {
  kv::server_limits l;
  l.max_connections = 2;
  l.idle_timeout = 300ms;
  start(l);
  const auto out = run_clients({{"", 0ms}, {"", 0ms}, {"GET a\n", 100ms}});
  EXPECT_EQ(out[2].got, "ERROR busy: too many connections\n");
  EXPECT_EQ(stats.refused, 1u);
  EXPECT_EQ(stats.connections, 2u);
}

TEST_F(KvLimits, a_declared_value_length_takes_no_memory_until_its_bytes_arrive) {
  kv::server_limits l;
  l.total_input = 128 * 1024;  // two 64 KiB steps
  l.io_timeout = 300ms;
  start(l);
  // Each declares 64 MiB and sends 10 bytes: if the declared length were reserved (or
  // charged) up front, the first would already be refused.
  const std::string huge = "SET k 67108864\n0123456789";
  const auto out = run_clients({{huge, 0ms}, {huge, 0ms}, {huge, 100ms}});
  EXPECT_EQ(out[0].got, "");  // cut off by the I/O timeout, holding 64 KiB meanwhile
  EXPECT_EQ(out[1].got, "");
  EXPECT_EQ(out[2].got, "ERROR busy: too many values being received\n");
  EXPECT_EQ(stats.rejected, 1u);
  EXPECT_EQ(stats.timed_out, 2u);
}

TEST_F(KvLimits, an_idle_connection_is_closed_after_the_idle_timeout) {
  kv::server_limits l;
  l.idle_timeout = 100ms;
  start(l);
  const auto out = run_clients({{"", 0ms}});
  EXPECT_EQ(out[0].got, "");
  EXPECT_GE(out[0].took, 90ms);
  EXPECT_EQ(stats.timed_out, 1u);
}

TEST_F(KvLimits, a_value_that_stops_arriving_is_cut_off_after_the_io_timeout) {
  kv::server_limits l;
  l.idle_timeout = 10s;
  l.io_timeout = 100ms;
  start(l);
  const auto out = run_clients({{"SET k 10\n01234", 0ms}});
  EXPECT_EQ(out[0].got, "");
  EXPECT_GE(out[0].took, 90ms);
  EXPECT_LT(out[0].took, 5s);
  EXPECT_EQ(stats.timed_out, 1u);
}

}  // namespace
