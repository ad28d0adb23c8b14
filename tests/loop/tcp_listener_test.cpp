// SPDX-License-Identifier: MIT OR Apache-2.0
// tcp_listener's resilience: retrying accept errors by itself, and max_connections; and
// listeners sharing a port with reuse_port.
#include "stakker/loop/tcp_listener.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "loop/net_support.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::clock;
using stakker::fwd_do;
using stakker::instant;
using stakker::loop::accepted;
using stakker::loop::connection_slot;
using stakker::loop::listener_options;
using stakker::loop::socket_address;
using stakker::loop::tcp_listener;
using stakker::loop::unique_fd;

// A blocking client connect to `at`; the handshake completes in the kernel's backlog
// whether or not the listener accepts.
unique_fd connect_to(const socket_address& at) {
  unique_fd s(::socket(at.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s || ::connect(s.get(), at.native(), at.native_size()) != 0)
    throw std::system_error(errno, std::generic_category(), "connect");
  return s;
}

using tcp_listener_limits = stakker_test::loop_fixture;

// Turns `loop` until `done()`, at most `limit`. A free function, not the fixture's drive():
// while descriptors are short, UBSan's check of a call through the fixture's vtable can
// fail for want of one.
template <class Pred>
bool turn_until(stakker::loop::epoll_loop& loop, Pred done, stakker::duration limit) {
  const auto deadline = clock::now() + limit;
  while (!done()) {
    if (clock::now() > deadline) return false;
    loop.turn(5ms);
  }
  return true;
}

// An owner that accepts until none is waiting, as servers do, keeping what it accepted.
struct acceptor {
  tcp_listener l;
  std::vector<accepted> conns;
  std::vector<std::error_code> errors;
  std::vector<instant> calls;  // when `ready` was called (clock time)

  // Listens on a free loopback port with `o`; gives the address to connect to. The
  // acceptor must stay where it is: the readiness callback points at it.
  socket_address listen(stakker::loop::epoll_loop& loop, const listener_options& o,
                        std::uint16_t port = 0) {
    l = tcp_listener::bind(loop, socket_address::loopback_v4(port),
                           fwd_do<std::uint32_t>([this](std::uint32_t) { ready(); }), o);
    return socket_address::loopback_v4(l.local_address().port());
  }

  void ready() {
    calls.push_back(clock::now());
    for (;;) {
      accepted a = l.accept();
      if (a.error) {
        errors.push_back(a.error);
        return;
      }
      if (!a.socket) return;
      conns.push_back(std::move(a));
    }
  }
};

TEST_F(tcp_listener_limits,
       accept_failing_for_lack_of_descriptors_is_retried_without_a_new_connection) {
  SKIP_WITHOUT_SPARE_DESCRIPTORS();
  stakker::loop::epoll_loop& lp = loop;
  acceptor acc;
  listener_options o;
  o.retry_min = 5ms;
  o.retry_max = 20ms;
  const socket_address at = acc.listen(loop, o);
  std::vector<unique_fd> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(connect_to(at));
  {
    // Room for one accepted socket only: the rest fail with EMFILE and stay queued.
    stakker_test::descriptor_shortage limit(1);
    ASSERT_TRUE(limit.ok());
    ASSERT_TRUE(turn_until(
        lp, [&] { return !acc.errors.empty(); }, 5s));
    EXPECT_EQ(acc.conns.size(), 1u);
    EXPECT_EQ(acc.errors.front(), std::errc::too_many_files_open);
  }
  // Descriptors are available again; no client connects, yet all are accepted: the
  // listener's retry calls `ready` (an edge-triggered listener would wait forever).
  ASSERT_TRUE(drive([&] { return acc.conns.size() == 5; }, 5s));
}

TEST_F(tcp_listener_limits, the_retry_delay_doubles_from_retry_min_up_to_retry_max) {
  SKIP_WITHOUT_SPARE_DESCRIPTORS();
  stakker::loop::epoll_loop& lp = loop;
  acceptor acc;
  listener_options o;
  o.retry_min = 10ms;
  o.retry_max = 40ms;
  const socket_address at = acc.listen(loop, o);
  unique_fd c1 = connect_to(at);
  {
    stakker_test::descriptor_shortage limit;  // no room at all
    ASSERT_TRUE(limit.ok());
    ASSERT_TRUE(turn_until(
        lp, [&] { return acc.errors.size() >= 6; }, 5s));
  }
  // Gaps between calls: at least 10, 20, 40, 40, 40 ms (timers never fire early).
  const stakker::duration expected[] = {10ms, 20ms, 40ms, 40ms, 40ms};
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_GE(acc.calls[i + 1] - acc.calls[i], expected[i] - 1ms) << "gap " << i;
  ASSERT_TRUE(drive([&] { return acc.conns.size() == 1; }, 5s));
}

TEST_F(tcp_listener_limits, at_max_connections_new_connections_wait_until_a_slot_is_released) {
  acceptor acc;
  listener_options o;
  o.max_connections = 2;
  const socket_address at = acc.listen(loop, o);
  std::vector<unique_fd> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(connect_to(at));
  ASSERT_TRUE(drive([&] { return acc.conns.size() == 2; }, 5s));
  settle();
  EXPECT_EQ(acc.conns.size(), 2u);
  EXPECT_TRUE(acc.l.at_limit());
  EXPECT_EQ(acc.l.connections(), 2u);
  // One connection ends: its slot goes, and the listener's owner is called to accept.
  acc.conns.erase(acc.conns.begin());
  EXPECT_EQ(acc.l.connections(), 1u);
  ASSERT_TRUE(drive([&] { return acc.conns.size() == 2 && acc.l.connections() == 2; }, 5s));
  acc.conns.clear();
  ASSERT_TRUE(drive([&] { return acc.conns.size() == 1 && acc.l.connections() == 1; }, 5s));
  EXPECT_FALSE(acc.l.at_limit());
}

TEST_F(tcp_listener_limits,
       a_slot_may_outlive_its_listener_and_a_pending_retry_calls_nothing_once_it_is_closed) {
  SKIP_WITHOUT_SPARE_DESCRIPTORS();
  stakker::loop::epoll_loop& lp = loop;
  acceptor acc;
  listener_options o;
  o.retry_min = 5ms;
  o.max_connections = 10;
  int calls_after_close = 0;
  bool closed = false;
  acc.l = tcp_listener::bind(loop, socket_address::loopback_v4(0),
                             fwd_do<std::uint32_t>([&](std::uint32_t) {
                               if (closed)
                                 ++calls_after_close;
                               else
                                 acc.ready();
                             }),
                             o);
  const socket_address at = socket_address::loopback_v4(acc.l.local_address().port());
  unique_fd c1 = connect_to(at);
  ASSERT_TRUE(drive([&] { return acc.conns.size() == 1; }, 5s));
  unique_fd c2 = connect_to(at);
  {
    stakker_test::descriptor_shortage limit;
    ASSERT_TRUE(limit.ok());
    ASSERT_TRUE(turn_until(
        lp, [&] { return !acc.errors.empty(); }, 5s));
  }
  closed = true;
  acc.l.close();  // a retry is pending
  const auto start = clock::now();
  while (clock::now() - start < 50ms) loop.turn(5ms);
  EXPECT_EQ(calls_after_close, 0);
  acc.l = tcp_listener();
  acc.conns.clear();  // the slot outlived its listener: released without effect
  settle();
  EXPECT_EQ(calls_after_close, 0);
}

TEST_F(tcp_listener_limits, bad_retry_options_are_refused) {
  listener_options o;
  o.retry_min = 0ms;
  EXPECT_THROW(tcp_listener::bind(loop, socket_address::loopback_v4(0),
                                  stakker::fwd_nop<std::uint32_t>(), o),
               std::invalid_argument);
  o.retry_min = 10ms;
  o.retry_max = 5ms;
  EXPECT_THROW(tcp_listener::bind(loop, socket_address::loopback_v4(0),
                                  stakker::fwd_nop<std::uint32_t>(), o),
               std::invalid_argument);
}

// --- reuse_port --------------------------------------------------------------------------

TEST_F(tcp_listener_limits, listeners_with_reuse_port_share_a_port_and_the_kernel_spreads_clients) {
  listener_options o;
  o.reuse_port = true;
  acceptor first, second;
  const socket_address at = first.listen(loop, o);
  EXPECT_EQ(second.listen(loop, o, at.port()).port(), at.port());
  // Each connection reaches exactly one of them; with 64 clients (64 source ports hashed),
  // all on one side would be a 2^-63 chance.
  std::vector<unique_fd> clients;
  for (int i = 0; i < 64; ++i) clients.push_back(connect_to(at));
  ASSERT_TRUE(drive([&] { return first.conns.size() + second.conns.size() == 64; }, 5s));
  settle();
  EXPECT_EQ(first.conns.size() + second.conns.size(), 64u);
  EXPECT_NE(first.conns.size(), 0u);
  EXPECT_NE(second.conns.size(), 0u);
}

TEST_F(tcp_listener_limits, a_listener_without_reuse_port_keeps_its_port_to_itself) {
  listener_options shared;
  shared.reuse_port = true;
  acceptor plain, with_option;
  const socket_address at = plain.listen(loop, listener_options{});
  try {
    with_option.listen(loop, shared, at.port());
    ADD_FAILURE() << "a second listener bound the port";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
  }
  // Nor may one without the option join listeners that set it.
  acceptor first, second;
  const socket_address group = first.listen(loop, shared);
  EXPECT_THROW(second.listen(loop, listener_options{}, group.port()), std::system_error);
}

}  // namespace
