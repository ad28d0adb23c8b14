#include "stakker/loop/epoll_loop.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "stakker/sync/waker.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::clock;
using stakker::core;
using stakker::fwd_do;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::loop::epoll_loop;
using stakker::loop::fd_source;

// A pipe closed on scope exit.
struct pipe_pair {
  int r = -1, w = -1;
  pipe_pair() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    r = fds[0];
    w = fds[1];
  }
  ~pipe_pair() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  void put() const { EXPECT_EQ(::write(w, "x", 1), 1); }
};

TEST(epoll_loop, is_reachable_through_the_anymap) {
  runtime rt;
  epoll_loop loop(rt);
  ASSERT_NE(rt.anymap_try_get<epoll_loop*>(), nullptr);
  EXPECT_EQ(*rt.anymap_try_get<epoll_loop*>(), &loop);
}

// Tolerance: the timer may not fire early at all, and may be late by at most 500 ms (a
// loaded CI machine); the loop sleeps in epoll_wait meanwhile.
TEST(epoll_loop, a_timer_fires_on_time_and_shutdown_stops_run) {
  runtime rt;
  epoll_loop loop(rt);
  const auto start = clock::now();
  clock::time_point fired{};
  rt.after(50ms, [&fired](core& c) {
    fired = clock::now();
    c.shutdown(stop_cause::stopped());
  });
  stop_cause cause = loop.run();
  EXPECT_EQ(cause.kind(), stop_kind::stopped);
  EXPECT_GE(fired - start, 50ms);
  EXPECT_LT(fired - start, 550ms);
}

TEST(epoll_loop, idle_items_run_only_after_a_poll_found_no_activity) {
  runtime rt;
  epoll_loop loop(rt);
  pipe_pair p;
  std::vector<std::string> log;
  fd_source src = loop.add(p.r, EPOLLIN, 0, fwd_do<std::uint32_t>([&](std::uint32_t) {
                             char buf[16];
                             while (::read(p.r, buf, sizeof buf) > 0) {
                             }
                             log.push_back("io");
                           }));
  p.put();
  rt.idle([&log](core&) { log.push_back("idle"); });
  loop.turn(0ms);  // finds the pipe readable: no idle item this turn
  EXPECT_EQ(log, (std::vector<std::string>{"io"}));
  loop.turn(1s);  // idle pending: a zero-wait poll that finds nothing runs it
  EXPECT_EQ(log, (std::vector<std::string>{"io", "idle"}));
}

TEST(epoll_loop, a_deregistered_fd_delivers_nothing_more_even_if_already_ready) {
  runtime rt;
  epoll_loop loop(rt);
  pipe_pair low, high;
  int low_calls = 0, high_calls = 0;
  fd_source l =
      loop.add(low.r, EPOLLIN, 1, fwd_do<std::uint32_t>([&](std::uint32_t) { ++low_calls; }));
  fd_source h =
      loop.add(high.r, EPOLLIN, 5, fwd_do<std::uint32_t>([&](std::uint32_t) { ++high_calls; }));
  low.put();
  high.put();
  loop.turn(0ms);  // both read from the kernel; only the higher level delivered
  EXPECT_EQ(high_calls, 1);
  EXPECT_EQ(low_calls, 0);
  l.reset();  // the low one is queued inside the loop: it must not be delivered now
  loop.turn(0ms);
  loop.turn(0ms);
  EXPECT_EQ(low_calls, 0);
  high.put();  // ready again, then deregistered and closed before the loop looks
  h.reset();
  ::close(high.r);
  high.r = -1;
  loop.turn(0ms);
  loop.turn(0ms);
  EXPECT_EQ(high_calls, 1);
}

TEST(epoll_loop, higher_priorities_are_delivered_first) {
  runtime rt;
  epoll_loop loop(rt);
  pipe_pair a, b, c;
  std::vector<int> order;
  auto note = [&order](int level) {
    return fwd_do<std::uint32_t>([&order, level](std::uint32_t) { order.push_back(level); });
  };
  fd_source sa = loop.add(a.r, EPOLLIN, 0, note(0));
  fd_source sb = loop.add(b.r, EPOLLIN, 10, note(10));
  fd_source sc = loop.add(c.r, EPOLLIN, 4, note(4));
  a.put();
  b.put();
  c.put();
  for (int i = 0; i < 5; ++i) loop.turn(0ms);
  EXPECT_EQ(order, (std::vector<int>{10, 4, 0}));
}

// E.g. an actor holding a stream, destroyed with the runtime after the loop went.
TEST(epoll_loop, a_source_may_outlive_its_loop) {
  runtime rt;
  pipe_pair p;
  fd_source src;
  {
    epoll_loop loop(rt);
    src = loop.add(p.r, EPOLLIN, 0, stakker::fwd_nop<std::uint32_t>());
    EXPECT_TRUE(src);
  }
  EXPECT_FALSE(src);
  EXPECT_THROW(src.rearm(EPOLLIN), std::logic_error);
  src.reset();  // deregisters from nothing (ASan: no use of the dead loop)
}

TEST(epoll_loop, a_bad_priority_is_refused) {
  runtime rt;
  epoll_loop loop(rt);
  pipe_pair p;
  EXPECT_THROW(loop.add(p.r, EPOLLIN, 11, stakker::fwd_nop<std::uint32_t>()),
               std::invalid_argument);
}

TEST(epoll_loop, a_waker_on_another_thread_wakes_the_sleeping_loop) {
  runtime rt;
  epoll_loop loop(rt);
  int calls = 0;
  stakker::waker w = rt.waker([&](core& c, bool deleted) {
    if (deleted) return;
    ++calls;
    c.shutdown(stop_cause::stopped());
  });
  const auto start = clock::now();
  std::thread t([&w] {
    std::this_thread::sleep_for(50ms);
    w.wake();
  });
  loop.run();  // would sleep up to 60 s per turn without the wake-up
  t.join();
  EXPECT_EQ(calls, 1);
  EXPECT_LT(clock::now() - start, 5s);
}

}  // namespace
