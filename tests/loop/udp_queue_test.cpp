// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/udp_queue.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "loop/net_support.hpp"
#include "stakker/fwd.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::fwd;
using stakker::fwd_do;
using stakker::fwd_nop;
using stakker::loop::datagram;
using stakker::loop::socket_address;
using stakker::loop::udp_queue;
using stakker::loop::unique_fd;
using stakker_test::pattern;

// A queue whose readiness is counted and, if `auto_receive`, received into `got`.
// Stays where it is: the readiness callback points at it.
struct peer {
  udp_queue q;
  int ready_calls = 0;
  std::uint32_t events_seen = 0;
  bool auto_receive = true;
  std::vector<datagram> got;
  std::vector<std::error_code> errors;

  peer() = default;
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;

  fwd<std::uint32_t> ready() {
    return fwd_do<std::uint32_t>([this](std::uint32_t events) {
      ++ready_calls;
      events_seen |= events;
      if (!auto_receive) return;
      if (const std::error_code e = q.receive(got)) errors.push_back(e);
    });
  }
};

std::vector<std::string> payloads(const std::vector<datagram>& ds) {
  std::vector<std::string> out;
  for (const datagram& d : ds) out.push_back(d.data);
  return out;
}

// A local UDP port with nobody on it: bound, then closed.
socket_address dead_udp_port() {
  unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(s);
  const socket_address any = socket_address::loopback_v4(0);
  EXPECT_EQ(::bind(s.get(), any.native(), any.native_size()), 0);
  sockaddr_storage st{};
  socklen_t len = sizeof st;
  EXPECT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&st), &len), 0);
  return socket_address::from_native(reinterpret_cast<sockaddr*>(&st), len);
}

// Whether the socket has an error waiting (POLLERR), without taking it.
bool error_pending(int fd) {
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
}

// Takes the socket's pending error, if any.
void clear_socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
}

class udp : public stakker_test::loop_fixture {};

TEST_F(udp, two_bound_queues_exchange_datagrams_keeping_their_boundaries) {
  peer a, b;
  a.q = udp_queue::bind(loop, socket_address::loopback_v4(0), a.ready());
  b.q = udp_queue::bind(loop, socket_address::loopback_v4(0), b.ready());
  const socket_address at_a = a.q.local_address(), at_b = b.q.local_address();
  EXPECT_NE(at_a.port(), 0);
  EXPECT_NE(at_a, at_b);

  const std::string big = pattern(3, 60'000);
  a.q.push(at_b, "one");
  a.q.push(at_b, "");  // an empty datagram is a datagram too
  a.q.push(at_b, "three");
  a.q.push(at_b, big);
  EXPECT_EQ(a.q.pending_output(), 4u);
  EXPECT_FALSE(a.q.flush());
  EXPECT_EQ(a.q.pending_output(), 0u);
  b.q.push(at_a, "reply");
  b.q.push(at_a, "reply 2");
  EXPECT_FALSE(b.q.flush());

  ASSERT_TRUE(drive([&] { return b.got.size() >= 4 && a.got.size() >= 2; }));
  settle();
  EXPECT_TRUE(a.errors.empty());
  EXPECT_TRUE(b.errors.empty());
  ASSERT_EQ(b.got.size(), 4u);
  EXPECT_EQ(b.got[0].data, "one");
  EXPECT_EQ(b.got[1].data, "");
  EXPECT_EQ(b.got[2].data, "three");
  EXPECT_TRUE(b.got[3].data == big) << "size " << b.got[3].data.size();
  for (const datagram& d : b.got) EXPECT_EQ(d.peer, at_a);
  EXPECT_EQ(payloads(a.got), (std::vector<std::string>{"reply", "reply 2"}));
  for (const datagram& d : a.got) EXPECT_EQ(d.peer, at_b);
}

TEST_F(udp, a_connected_queue_sends_to_its_peer_and_hears_only_from_it) {
  peer server, client, stranger;
  server.q = udp_queue::bind(loop, socket_address::loopback_v4(0), server.ready());
  client.q = udp_queue::connect(loop, socket_address::loopback_v4(0), server.q.local_address(),
                                client.ready());
  stranger.q = udp_queue::bind(loop, socket_address::loopback_v4(0), stranger.ready());
  const socket_address at_client = client.q.local_address();
  EXPECT_NE(at_client.port(), 0);

  client.q.push("hello");
  client.q.push("again");
  EXPECT_FALSE(client.q.flush());
  ASSERT_TRUE(drive([&] { return server.got.size() >= 2; }));
  EXPECT_EQ(payloads(server.got), (std::vector<std::string>{"hello", "again"}));
  EXPECT_EQ(server.got[0].peer, at_client);

  // A datagram from anyone but the peer is filtered out by the kernel.
  stranger.q.push(at_client, "not for you");
  EXPECT_FALSE(stranger.q.flush());
  server.q.push(at_client, "back");
  EXPECT_FALSE(server.q.flush());
  ASSERT_TRUE(drive([&] { return !client.got.empty(); }));
  settle();
  EXPECT_EQ(payloads(client.got), (std::vector<std::string>{"back"}));
  EXPECT_EQ(client.got[0].peer, server.q.local_address());
  EXPECT_TRUE(client.errors.empty());
}

TEST_F(udp, receive_takes_at_most_max_datagrams_and_leaves_the_rest_waiting) {
  peer sender, receiver;
  receiver.auto_receive = false;
  sender.q = udp_queue::bind(loop, socket_address::loopback_v4(0), sender.ready());
  receiver.q = udp_queue::bind(loop, socket_address::loopback_v4(0), receiver.ready());
  settle();
  const int calls_before = receiver.ready_calls;
  for (int i = 0; i < 5; ++i) sender.q.push(receiver.q.local_address(), "d" + std::to_string(i));
  EXPECT_FALSE(sender.q.flush());
  ASSERT_TRUE(drive([&] { return receiver.ready_calls > calls_before; }));

  std::vector<datagram> got;
  EXPECT_FALSE(receiver.q.receive(got, 0));
  EXPECT_TRUE(got.empty());
  // Collected two at a time; no call may take more than it was allowed. No readiness
  // comes for the rest (the edge was not drained), so just call again.
  int calls = 0;
  bool took_two = false;
  const auto deadline = stakker::clock::now() + 10s;
  while (got.size() < 5 && stakker::clock::now() < deadline) {
    const std::size_t before = got.size();
    EXPECT_FALSE(receiver.q.receive(got, 2));
    EXPECT_LE(got.size() - before, 2u);
    took_two = took_two || got.size() - before == 2;
    ++calls;
    if (got.size() == before) loop.turn(1ms);  // not all arrived yet (unlikely)
  }
  EXPECT_TRUE(took_two);
  EXPECT_GE(calls, 3);
  EXPECT_EQ(payloads(got), (std::vector<std::string>{"d0", "d1", "d2", "d3", "d4"}));
  // Nothing left: no datagram and no error.
  EXPECT_FALSE(receiver.q.receive(got));
  EXPECT_EQ(got.size(), 5u);
}

// Loopback answers a datagram to a closed port with ICMP port-unreachable, which a connected
// socket reports as ECONNREFUSED on a later call. The ICMP arrives asynchronously, so keep
// sending until it shows, within a deadline.
TEST_F(udp, flushing_to_an_unreachable_connected_peer_reports_connection_refused_as_a_value) {
  peer client;
  client.auto_receive = false;  // leave the pending error for flush to find
  client.q =
      udp_queue::connect(loop, socket_address::loopback_v4(0), dead_udp_port(), client.ready());
  std::error_code e;
  int sends = 0;
  ASSERT_TRUE(drive(
      [&] {
        client.q.push("ping " + std::to_string(sends++));
        EXPECT_NO_THROW(e = client.q.flush());
        return static_cast<bool>(e);
      },
      10s));
  EXPECT_EQ(e, std::errc::connection_refused) << e.message();
  EXPECT_EQ(client.q.pending_output(), 0u);  // the refused datagram was dropped
  EXPECT_NE(client.events_seen & EPOLLERR, 0u);

  // Clear any error left by a ping sent before the first ICMP came back, then check that
  // the queue still sends.
  for (int i = 0; i < 5; ++i) loop.turn(10ms);
  clear_socket_error(client.q.native_handle());
  int tries = 0;
  ASSERT_TRUE(drive([&] {
    client.q.push("after");
    ++tries;
    return !client.q.flush();
  }));
  EXPECT_EQ(tries, 1) << "a stray ICMP error";

  // With an error pending (the ICMP answering "after"), a flush of two datagrams drops the
  // first with the error and goes on to send the second, whose own ICMP comes back.
  ASSERT_TRUE(drive([&] { return error_pending(client.q.native_handle()); }, 10s));
  client.q.push("first");
  client.q.push("second");
  EXPECT_EQ(client.q.flush(), std::errc::connection_refused);
  EXPECT_EQ(client.q.pending_output(), 0u);
  EXPECT_TRUE(drive([&] { return error_pending(client.q.native_handle()); }, 10s))
      << "the second datagram was not sent";
}

TEST_F(udp, a_connected_queue_hears_connection_refused_from_receive) {
  peer client;  // receives on every readiness
  client.q =
      udp_queue::connect(loop, socket_address::loopback_v4(0), dead_udp_port(), client.ready());
  client.q.push("ping");
  EXPECT_FALSE(client.q.flush());
  ASSERT_TRUE(drive([&] { return !client.errors.empty(); }, 10s));
  EXPECT_EQ(client.errors.front(), std::errc::connection_refused);
  EXPECT_TRUE(client.got.empty());
  // Reported once: the next receive finds nothing and no error.
  EXPECT_FALSE(client.q.receive(client.got));
}

// Datagrams from the peer wait in the receive queue; then the peer goes and an ICMP error
// for the client's next send is pending too. The kernel reports the error first: receive
// must go on past it, or the datagrams stay stranded (no new readiness edge comes).
TEST_F(udp, receive_returns_the_first_error_and_every_datagram_waiting_behind_it) {
  auto server = std::make_unique<peer>();
  server->q = udp_queue::bind(loop, socket_address::loopback_v4(0), server->ready());
  const socket_address at_server = server->q.local_address();
  peer client;
  client.auto_receive = false;
  client.q = udp_queue::connect(loop, socket_address::loopback_v4(0), at_server, client.ready());
  for (int i = 0; i < 3; ++i) server->q.push(client.q.local_address(), "d" + std::to_string(i));
  EXPECT_FALSE(server->q.flush());
  server.reset();  // the port is now closed
  client.q.push("anyone?");
  EXPECT_FALSE(client.q.flush());
  ASSERT_TRUE(drive([&] { return error_pending(client.q.native_handle()); }, 10s));

  std::vector<datagram> got;
  EXPECT_EQ(client.q.receive(got), std::errc::connection_refused);
  EXPECT_EQ(payloads(got), (std::vector<std::string>{"d0", "d1", "d2"}));
  EXPECT_FALSE(client.q.receive(got));  // nothing left, error reported once
  EXPECT_EQ(got.size(), 3u);
}

TEST_F(udp, a_ready_callback_may_close_its_own_queue) {
  peer a, b;
  a.q = udp_queue::bind(loop, socket_address::loopback_v4(0), a.ready());
  int calls = 0;
  std::vector<datagram> got;
  b.q = udp_queue::bind(loop, socket_address::loopback_v4(0),
                        fwd_do<std::uint32_t>([&](std::uint32_t) {
                          ++calls;
                          (void)b.q.receive(got);
                          if (!got.empty()) b.q.close();
                        }));
  a.q.push(b.q.local_address(), "x");
  EXPECT_FALSE(a.q.flush());
  ASSERT_TRUE(drive([&] { return !b.q; }));
  const int at_close = calls;
  for (int i = 0; i < 5; ++i) loop.turn(0ms);
  EXPECT_EQ(calls, at_close);
  EXPECT_EQ(payloads(got), (std::vector<std::string>{"x"}));
}

TEST_F(udp, a_datagram_too_large_is_dropped_with_message_size_and_the_queue_goes_on) {
  peer a, b;
  a.q = udp_queue::bind(loop, socket_address::loopback_v4(0), a.ready());
  b.q = udp_queue::bind(loop, socket_address::loopback_v4(0), b.ready());
  a.q.push(b.q.local_address(), "before");
  a.q.push(b.q.local_address(), std::string(70'000, 'x'));
  a.q.push(b.q.local_address(), "after");
  EXPECT_EQ(a.q.flush(), std::errc::message_size);
  EXPECT_EQ(a.q.pending_output(), 0u);
  ASSERT_TRUE(drive([&] { return b.got.size() >= 2; }));
  settle();
  EXPECT_EQ(payloads(b.got), (std::vector<std::string>{"before", "after"}));
}

TEST_F(udp, binding_a_port_in_use_throws_system_error_naming_the_address) {
  udp_queue first = udp_queue::bind(loop, socket_address::loopback_v4(0), fwd_nop<std::uint32_t>());
  const socket_address at = first.local_address();
  try {
    udp_queue second = udp_queue::bind(loop, at, fwd_nop<std::uint32_t>());
    ADD_FAILURE() << "bound " << at.to_string() << " twice";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
    EXPECT_NE(std::string(e.what()).find(at.to_string()), std::string::npos) << e.what();
  }
}

TEST_F(udp, datagrams_travel_over_ipv6_loopback) {
  peer a, b;
  try {
    a.q = udp_queue::bind(loop, socket_address::loopback_v6(0), a.ready());
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  b.q = udp_queue::bind(loop, socket_address::loopback_v6(0), b.ready());
  EXPECT_EQ(a.q.local_address().family(), AF_INET6);
  a.q.push(b.q.local_address(), "six");
  EXPECT_FALSE(a.q.flush());
  ASSERT_TRUE(drive([&] { return !b.got.empty(); }));
  EXPECT_EQ(b.got[0].data, "six");
  EXPECT_EQ(b.got[0].peer, a.q.local_address());
}

TEST_F(udp, close_deregisters_and_drops_queued_datagrams) {
  peer a;
  a.q = udp_queue::bind(loop, socket_address::loopback_v4(0), a.ready());
  ASSERT_TRUE(a.q);
  a.q.push(socket_address::loopback_v4(9), "never sent");
  a.q.close();
  EXPECT_FALSE(a.q);
  EXPECT_EQ(a.q.native_handle(), -1);
  EXPECT_EQ(a.q.pending_output(), 0u);
  const int calls = a.ready_calls;
  for (int i = 0; i < 3; ++i) loop.turn(0ms);
  EXPECT_EQ(a.ready_calls, calls);
}

}  // namespace
