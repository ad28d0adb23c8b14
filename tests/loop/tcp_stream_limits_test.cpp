// SPDX-License-Identifier: MIT OR Apache-2.0
// tcp_stream's limits (stream_options): per-call reads, input and output caps, shared
// budgets, timeouts. The peer is the other end of a socketpair, driven by hand.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "loop/net_support.hpp"
#include "stakker/loop/byte_budget.hpp"
#include "stakker/loop/tcp_stream.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::clock;
using stakker::fwd;
using stakker::fwd_do;
using stakker::loop::byte_budget;
using stakker::loop::read_result;
using stakker::loop::stream_options;
using stakker::loop::tcp_stream;
using stakker::loop::unique_fd;

// A stream on one end of a socketpair; the test writes and reads the other end (`peer`,
// non-blocking) directly. Counts readiness calls.
struct rig {
  tcp_stream s;
  unique_fd peer;
  int ready_calls = 0;
  std::uint32_t last_events = 0;

  rig(stakker::loop::epoll_loop& loop, const stream_options& o) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error("socketpair");
    peer.reset(fds[1]);
    s = tcp_stream(loop, unique_fd(fds[0]), fwd_do<std::uint32_t>([this](std::uint32_t e) {
                     ++ready_calls;
                     last_events = e;
                   }),
                   o);
  }
  rig(const rig&) = delete;
  rig& operator=(const rig&) = delete;

  // Writes as much of `n` bytes as the socket takes; returns how many.
  std::size_t send_peer(std::size_t n) {
    const std::string chunk(64 * 1024, 'x');
    std::size_t done = 0;
    while (done < n) {
      const ssize_t k = ::send(peer.get(), chunk.data(), std::min(chunk.size(), n - done), 0);
      if (k <= 0) break;
      done += static_cast<std::size_t>(k);
    }
    return done;
  }
  // Reads and drops everything the peer has received; returns how many bytes.
  std::size_t drain_peer() {
    char buf[64 * 1024];
    std::size_t total = 0;
    for (;;) {
      const ssize_t k = ::recv(peer.get(), buf, sizeof buf, 0);
      if (k <= 0) return total;
      total += static_cast<std::size_t>(k);
    }
  }
};

using tcp_stream_limits = stakker_test::loop_fixture;

TEST_F(tcp_stream_limits,
       one_read_takes_at_most_max_read_per_call_and_the_rest_comes_in_the_next_turn) {
  stream_options o;
  o.max_read_per_call = 1000;
  rig r(loop, o);
  ASSERT_EQ(r.send_peer(2500), 2500u);
  settle();
  const int calls = r.ready_calls;
  read_result res = r.s.read(EPOLLIN);
  EXPECT_EQ(res.bytes, 1000u);
  EXPECT_FALSE(res.full);
  // No new data arrives, yet the owner is called again for the rest.
  loop.turn(0ms);
  EXPECT_EQ(r.ready_calls, calls + 1);
  EXPECT_EQ(r.s.read(EPOLLIN).bytes, 1000u);
  loop.turn(0ms);
  EXPECT_EQ(r.s.read(EPOLLIN).bytes, 500u);
  EXPECT_EQ(r.s.input().size(), 2500u);
}

TEST_F(tcp_stream_limits, reading_stops_at_max_input_and_consuming_calls_ready_to_read_the_rest) {
  stream_options o;
  o.max_input = 4096;
  rig r(loop, o);
  ASSERT_EQ(r.send_peer(10000), 10000u);
  settle();
  read_result res = r.s.read(EPOLLIN);
  EXPECT_EQ(res.bytes, 4096u);
  EXPECT_TRUE(res.full);
  // Full: reading again takes nothing, and nothing calls the owner until it consumes.
  EXPECT_EQ(r.s.read(EPOLLIN).bytes, 0u);
  const int calls = r.ready_calls;
  settle();
  EXPECT_EQ(r.ready_calls, calls);
  r.s.consume(1000);
  loop.turn(0ms);
  EXPECT_EQ(r.ready_calls, calls + 1);
  res = r.s.read(EPOLLIN);
  EXPECT_EQ(res.bytes, 1000u);
  EXPECT_EQ(r.s.input().size(), 4096u);
}

TEST_F(tcp_stream_limits,
       a_hang_up_seen_before_a_limit_stopped_reading_still_ends_in_end_of_stream) {
  stream_options o;
  o.max_read_per_call = 1000;
  rig r(loop, o);
  ASSERT_EQ(r.send_peer(3000), 3000u);
  ::shutdown(r.peer.get(), SHUT_WR);
  settle();
  // The hang-up comes with the first call only; later calls are the loop's plain EPOLLIN.
  read_result res = r.s.read(EPOLLIN | EPOLLRDHUP);
  EXPECT_FALSE(res.eof);
  for (int i = 0; i < 5 && !res.eof; ++i) {
    loop.turn(0ms);
    res = r.s.read(EPOLLIN);
  }
  EXPECT_TRUE(res.eof);
  EXPECT_EQ(r.s.input().size(), 3000u);
}

TEST_F(tcp_stream_limits,
       the_input_budget_caps_all_streams_together_and_giving_back_resumes_a_waiting_reader) {
  auto budget = std::make_shared<byte_budget>(6000);
  stream_options o;
  o.input_budget = budget;
  rig a(loop, o), b(loop, o);
  ASSERT_EQ(a.send_peer(5000), 5000u);
  ASSERT_EQ(b.send_peer(5000), 5000u);
  settle();
  EXPECT_EQ(a.s.read(EPOLLIN).bytes, 5000u);
  read_result rb = b.s.read(EPOLLIN);
  EXPECT_EQ(rb.bytes, 1000u);
  EXPECT_TRUE(rb.full);
  EXPECT_EQ(budget->used(), 6000u);
  EXPECT_EQ(budget->waiting(), 1u);
  const int calls = b.ready_calls;
  a.s.consume(4000);  // gives back: b is called to read on
  EXPECT_EQ(budget->used(), 2000u);
  loop.turn(0ms);
  EXPECT_EQ(b.ready_calls, calls + 1);
  EXPECT_EQ(b.s.read(EPOLLIN).bytes, 4000u);
  EXPECT_EQ(budget->used(), 6000u);
  // Everything lent comes back when the streams go.
  a.s.close();
  b.s = tcp_stream();
  EXPECT_EQ(budget->used(), 0u);
}

TEST_F(tcp_stream_limits,
       a_write_past_max_output_fails_the_stream_with_no_buffer_space_and_frees_its_output) {
  stream_options o;
  o.max_output = 10000;
  rig r(loop, o);
  settle();  // the first writability edge
  r.s.write(std::string(6000, 'a'));
  EXPECT_EQ(r.s.pending_output(), 6000u);
  r.s.write(std::string(4000, 'b'));  // exactly at the limit: fine
  EXPECT_FALSE(r.s.error());
  const int calls = r.ready_calls;
  r.s.write("c");
  EXPECT_EQ(r.s.error(), std::errc::no_buffer_space);
  EXPECT_EQ(r.s.pending_output(), 0u);
  EXPECT_EQ(r.s.flush(), std::errc::no_buffer_space);
  EXPECT_EQ(r.s.read(EPOLLIN).error, std::errc::no_buffer_space);
  // The owner is told even if it was not going to flush.
  loop.turn(0ms);
  EXPECT_EQ(r.ready_calls, calls + 1);
}

TEST_F(tcp_stream_limits,
       over_the_output_budget_a_stream_with_output_pending_fails_and_one_with_none_may_write) {
  auto budget = std::make_shared<byte_budget>(1000);
  stream_options o;
  o.output_budget = budget;
  rig slow(loop, o), fast(loop, o);
  slow.s.write(std::string(900, 's'));
  fast.s.write(std::string(50, 'f'));
  EXPECT_EQ(fast.s.flush(), std::error_code());  // sent: nothing pending
  EXPECT_EQ(budget->used(), 900u);
  fast.s.write(std::string(500, 'f'));  // over the budget, but fast had nothing pending
  EXPECT_FALSE(fast.s.error());
  EXPECT_EQ(budget->used(), 1400u);
  slow.s.write(std::string(10, 's'));  // over the budget with output pending: cut off
  EXPECT_EQ(slow.s.error(), std::errc::no_buffer_space);
  EXPECT_EQ(budget->used(), 500u);
  EXPECT_EQ(fast.s.flush(), std::error_code());
  EXPECT_EQ(budget->used(), 0u);
  EXPECT_EQ(fast.drain_peer(), 550u);
}

TEST_F(tcp_stream_limits, an_idle_stream_times_out_and_activity_postpones_it) {
  stream_options o;
  o.idle_timeout = 60ms;
  rig r(loop, o);
  const auto start = clock::now();
  // Activity every 20 ms for 150 ms keeps it alive.
  while (clock::now() - start < 150ms) {
    ASSERT_EQ(r.send_peer(1), 1u);
    loop.turn(20ms);
    const read_result res = r.s.read(EPOLLIN);
    ASSERT_FALSE(res.error) << res.error.message();
    r.s.consume(r.s.input().size());
  }
  const auto quiet = clock::now();
  ASSERT_TRUE(drive([&] { return r.s.read(EPOLLIN).error == std::errc::timed_out; }, 5s));
  EXPECT_GE(clock::now() - quiet, 55ms);  // not before the timeout (clock granularity aside)
  EXPECT_EQ(r.s.flush(), std::errc::timed_out);
  settle();
  EXPECT_NE(r.last_events & EPOLLERR, 0u);  // the owner was called to look
}

TEST_F(tcp_stream_limits,
       input_left_unconsumed_past_the_read_timeout_fails_the_stream_though_bytes_trickle_in) {
  stream_options o;
  o.read_timeout = 80ms;
  o.idle_timeout = 1h;  // the trickle keeps it from being idle
  rig r(loop, o);
  const auto start = clock::now();
  bool timed_out = false;
  // A slowloris: one byte every 10 ms, never a complete message (nothing is consumed).
  while (!timed_out && clock::now() - start < 5s) {
    r.send_peer(1);
    loop.turn(10ms);
    timed_out = r.s.read(EPOLLIN).error == std::errc::timed_out;
  }
  EXPECT_TRUE(timed_out);
  EXPECT_GE(clock::now() - start, 75ms);
}

TEST_F(tcp_stream_limits, consuming_all_input_in_time_keeps_the_read_timeout_from_firing) {
  stream_options o;
  o.read_timeout = 50ms;
  rig r(loop, o);
  const auto start = clock::now();
  while (clock::now() - start < 200ms) {
    r.send_peer(10);
    loop.turn(10ms);
    const read_result res = r.s.read(EPOLLIN);
    ASSERT_FALSE(res.error) << res.error.message();
    r.s.consume(r.s.input().size());
  }
}

TEST_F(
    tcp_stream_limits,
    a_peer_that_pipelines_so_input_is_never_empty_does_not_hit_the_read_timeout_while_messages_complete) {
  stream_options o;
  o.read_timeout = 50ms;
  rig r(loop, o);
  const auto start = clock::now();
  // Every turn a message and a half arrive; each complete message is consumed, the half
  // stays: the buffer is never empty, yet messages keep completing.
  bool first = true;
  while (clock::now() - start < 200ms) {
    const std::string chunk = first ? std::string("abc\nde") : std::string("f\nde");
    first = false;
    ASSERT_EQ(::send(r.peer.get(), chunk.data(), chunk.size(), 0),
              static_cast<ssize_t>(chunk.size()));
    loop.turn(10ms);
    const read_result res = r.s.read(EPOLLIN);
    ASSERT_FALSE(res.error) << res.error.message();
    const std::size_t nl = r.s.input().rfind('\n');
    if (nl != std::string::npos) r.s.consume(nl + 1);
    ASSERT_FALSE(r.s.input().empty());
  }
}

TEST_F(tcp_stream_limits,
       output_still_unsent_when_the_closing_timeout_passes_after_close_write_fails_the_stream) {
  stream_options o;
  o.closing_timeout = 50ms;
  rig r(loop, o);
  // More than the socket buffers take, to a peer that never reads.
  r.s.write(std::string(8 << 20, 'z'));
  EXPECT_EQ(r.s.close_write(), std::error_code());
  ASSERT_NE(r.s.pending_output(), 0u);
  ASSERT_TRUE(drive([&] { return r.s.flush() == std::errc::timed_out; }, 5s));
  EXPECT_EQ(r.s.pending_output(), 0u);
}

TEST_F(tcp_stream_limits, a_stream_that_flushes_everything_after_close_write_does_not_time_out) {
  stream_options o;
  o.closing_timeout = 30ms;
  rig r(loop, o);
  r.s.write("bye");
  EXPECT_EQ(r.s.close_write(), std::error_code());
  const auto start = clock::now();
  while (clock::now() - start < 100ms) loop.turn(10ms);
  EXPECT_EQ(r.s.flush(), std::error_code());
  EXPECT_EQ(r.drain_peer(), 3u);
}

TEST_F(tcp_stream_limits, a_stream_destroyed_with_a_timeout_pending_leaves_no_timer_behind) {
  const std::size_t before = rt.timer_count();
  {
    stream_options o;
    o.idle_timeout = 1h;
    rig r(loop, o);
    EXPECT_EQ(rt.timer_count(), before + 1);
  }
  EXPECT_EQ(rt.timer_count(), before);
}

TEST_F(tcp_stream_limits, zero_limits_are_refused) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  unique_fd keep(fds[1]);
  stream_options o;
  o.max_input = 0;
  EXPECT_THROW(tcp_stream(loop, unique_fd(fds[0]), stakker::fwd_nop<std::uint32_t>(), o),
               std::invalid_argument);
}

TEST(byte_budget, giving_back_more_than_was_taken_is_a_logic_error) {
  byte_budget b(10);
  EXPECT_TRUE(b.try_take(10));
  EXPECT_FALSE(b.try_take(1));
  b.force_take(5);
  EXPECT_EQ(b.used(), 15u);
  EXPECT_EQ(b.available(), 0u);
  b.give(15);
  EXPECT_THROW(b.give(1), std::logic_error);
}

}  // namespace
