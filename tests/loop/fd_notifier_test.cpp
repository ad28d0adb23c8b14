// SPDX-License-Identifier: MIT OR Apache-2.0
// fd_source::post and fd_notifier: readiness delivered by the loop's next turn.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "stakker/loop/epoll_loop.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::clock;
using stakker::fwd_do;
using stakker::runtime;
using stakker::loop::epoll_loop;
using stakker::loop::fd_notifier;
using stakker::loop::fd_source;

struct pipe_fds {
  int r = -1, w = -1;
  pipe_fds() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    r = fds[0];
    w = fds[1];
  }
  pipe_fds(const pipe_fds&) = delete;
  pipe_fds& operator=(const pipe_fds&) = delete;
  ~pipe_fds() {
    ::close(r);
    ::close(w);
  }
};

TEST(fd_notifier, a_posted_readiness_reaches_the_callback_in_the_next_turn_without_sleeping) {
  runtime rt;
  epoll_loop loop(rt);
  pipe_fds p;
  std::vector<std::uint32_t> seen;
  fd_source src =
      loop.add(p.r, EPOLLIN, 5, fwd_do<std::uint32_t>([&](std::uint32_t e) { seen.push_back(e); }));
  loop.turn(0ms);
  ASSERT_TRUE(seen.empty());
  src.post(EPOLLIN | EPOLLRDHUP);
  const auto start = clock::now();
  loop.turn(10s);  // would sleep 10 s if the posted readiness did not count as pending
  EXPECT_LT(clock::now() - start, 5s);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::uint32_t{EPOLLIN | EPOLLRDHUP});
}

TEST(fd_notifier, a_post_from_inside_a_callback_is_delivered_in_the_following_turn_not_the_same) {
  runtime rt;
  epoll_loop loop(rt);
  pipe_fds p;
  int calls = 0;
  fd_source src;
  src = loop.add(p.r, EPOLLIN, 5, fwd_do<std::uint32_t>([&](std::uint32_t) {
                   if (++calls < 3) src.post(EPOLLIN);
                 }));
  src.post(EPOLLIN);
  loop.turn(0ms);
  EXPECT_EQ(calls, 1);
  loop.turn(0ms);
  EXPECT_EQ(calls, 2);
  loop.turn(0ms);
  loop.turn(0ms);
  EXPECT_EQ(calls, 3);
}

TEST(fd_notifier, a_notifier_does_nothing_once_its_source_is_reset_or_its_loop_is_gone) {
  runtime rt;
  pipe_fds p;
  int calls = 0;
  fd_notifier kept;
  {
    epoll_loop loop(rt);
    fd_source src =
        loop.add(p.r, EPOLLIN, 5, fwd_do<std::uint32_t>([&](std::uint32_t) { ++calls; }));
    fd_notifier n = src.notifier();
    EXPECT_TRUE(n.live());
    EXPECT_TRUE(n(EPOLLIN));
    loop.turn(0ms);
    EXPECT_EQ(calls, 1);
    kept = n;
    src.reset();
    EXPECT_FALSE(n.live());
    EXPECT_FALSE(n(EPOLLIN));
    // A new source reusing the slot is not reached by the old notifier.
    fd_source again =
        loop.add(p.r, EPOLLIN, 5, fwd_do<std::uint32_t>([&](std::uint32_t) { calls += 100; }));
    EXPECT_FALSE(kept(EPOLLIN));
    loop.turn(0ms);
    EXPECT_EQ(calls, 1);
    kept = again.notifier();
  }
  EXPECT_FALSE(kept.live());  // the loop is gone
  EXPECT_FALSE(kept(EPOLLIN));
  EXPECT_FALSE(fd_notifier()(EPOLLIN));
}

TEST(fd_notifier,
     readiness_posted_by_callbacks_before_one_throws_is_kept_after_the_rest_of_the_batch) {
  runtime rt;
  epoll_loop loop(rt);
  pipe_fds a, b;
  std::vector<char> order;
  fd_source sb;
  fd_source sa = loop.add(a.r, EPOLLIN, 5, fwd_do<std::uint32_t>([&](std::uint32_t e) {
                            order.push_back(e == EPOLLOUT ? 'A' : 'a');
                            if (e != EPOLLOUT) {
                              sb.post(EPOLLOUT);  // queued behind the batch
                              throw std::runtime_error("boom");
                            }
                          }));
  sb = loop.add(b.r, EPOLLIN, 5, fwd_do<std::uint32_t>([&](std::uint32_t e) {
                  order.push_back(e == EPOLLOUT ? 'B' : 'b');
                }));
  sa.post(EPOLLIN);
  sb.post(EPOLLIN);
  EXPECT_THROW(loop.turn(0ms), std::runtime_error);
  loop.turn(0ms);
  loop.turn(0ms);
  // b's own readiness first (the rest of the batch), then what a posted for it.
  EXPECT_EQ(std::string(order.begin(), order.end()), "abB");
}

}  // namespace
