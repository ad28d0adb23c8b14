// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/sync/piped_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "stakker/runtime.hpp"
#include "stakker/sync/channel.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::fwd_do;
using stakker::piped_link;
using stakker::piped_thread;
using stakker::runtime;
using stakker::testing::counted;
using stakker::testing::counts;
using end_t = std::optional<std::string>;

void run(runtime& rt) { rt.run(rt.now(), false); }

// Runs `rt` until `done()` (the runtime thread never blocks; this loop polls).
template <class F>
void run_until(runtime& rt, F done) {
  for (int i = 0; i < 2'000'000 && !done(); ++i) {
    run(rt);
    std::this_thread::yield();
  }
}

TEST(piped_thread, messages_go_both_ways_and_a_normal_end_reports_empty) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<int> back;
  std::optional<end_t> ended;
  piped_thread<int, int> t(rt, fwd_do<int>([&back](int v) { back.push_back(v); }),
                           fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }),
                           [](piped_link<int, int>& link) {
                             while (auto v = link.recv()) {
                               if (*v < 0) return;
                               link.send(*v * 10);
                             }
                           });
  for (int i = 1; i <= 100; ++i) t.send(i);
  t.send(-1);
  run_until(rt, [&] { return ended.has_value(); });
  ASSERT_TRUE(ended.has_value());
  EXPECT_FALSE(ended->has_value());
  ASSERT_EQ(back.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(back[static_cast<std::size_t>(i)], (i + 1) * 10);
}

TEST(piped_thread, an_exception_in_the_thread_reaches_the_end_callback_with_its_message) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::optional<end_t> ended;
  piped_thread<int, int> t(rt, fwd_do<int>([](int) {}),
                           fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }),
                           [](piped_link<int, int>&) { throw std::runtime_error("worker broke"); });
  run_until(rt, [&] { return ended.has_value(); });
  ASSERT_TRUE(ended.has_value());
  ASSERT_TRUE(ended->has_value());
  EXPECT_EQ(**ended, "worker broke");
}

TEST(piped_thread, destroying_the_handle_cancels_the_thread_and_the_end_is_still_reported) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::optional<end_t> ended;
  std::atomic<bool> saw_cancel{false};
  {
    piped_thread<int, int> t(rt, fwd_do<int>([](int) {}),
                             fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }),
                             [&saw_cancel](piped_link<int, int>& link) {
                               while (link.recv()) {
                               }
                               saw_cancel = link.cancelled();
                               EXPECT_FALSE(link.send(1));
                             });
  }
  run_until(rt, [&] { return ended.has_value(); });
  ASSERT_TRUE(ended.has_value());
  EXPECT_FALSE(ended->has_value());
  EXPECT_TRUE(saw_cancel.load());
}

TEST(piped_thread, a_thread_outliving_its_runtime_ends_quietly) {
  std::atomic<bool> finished{false};
  {
    runtime rt;
    rt.set_poll_waker([] {});
    piped_thread<int, int> t(rt, fwd_do<int>([](int) {}), fwd_do<end_t>([](end_t) {}),
                             [&finished](piped_link<int, int>& link) {
                               while (link.recv()) {
                               }
                               link.send(1);
                               finished = true;
                             });
    t.send(1);
  }  // the handle cancels, then the runtime goes while the thread may still run
  for (int i = 0; i < 10'000'000 && !finished.load(); ++i) std::this_thread::yield();
  EXPECT_TRUE(finished.load());
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // let it exit (not asserted)
}

// --- Receivers and end callbacks that throw, drop their owner, or add wakers ---

// Waits (off the runtime) until the thread function has returned, and a little more for it
// to record its end: the values and the end then arrive in one batch (not asserted).
void wait_for(const std::atomic<bool>& flag) {
  for (int i = 0; i < 10'000'000 && !flag.load(); ++i) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// Runs until `done()`, swallowing (and counting) exceptions from the callbacks.
template <class F>
int run_until_catching(runtime& rt, F done) {
  int thrown = 0;
  for (int i = 0; i < 2'000'000 && !done(); ++i) {
    try {
      run(rt);
    } catch (const std::runtime_error&) {
      ++thrown;
    }
    std::this_thread::yield();
  }
  return thrown;
}

// Before the fix the rest of the batch, the end report and the join were all lost.
TEST(piped_thread, a_throwing_receiver_loses_no_value_and_the_end_is_still_reported) {
  runtime rt;
  int polls = 0;
  rt.set_poll_waker([&polls] { ++polls; });
  counts c;
  {
    std::vector<int> back;
    std::optional<end_t> ended;
    std::atomic<bool> body_done{false};
    bool thrown = false;
    piped_thread<int, counted> t(rt, fwd_do<counted>([&](counted v) {
                                   back.push_back(v.value());
                                   if (!thrown) {
                                     thrown = true;
                                     throw std::runtime_error("receiver broke");
                                   }
                                 }),
                                 fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }),
                                 [&c, &body_done](piped_link<int, counted>& link) {
                                   for (int i = 1; i <= 3; ++i) link.send(counted(c, i));
                                   body_done = true;
                                 });
    wait_for(body_done);
    const int polls_before = polls;
    EXPECT_THROW(run(rt), std::runtime_error);
    EXPECT_GT(polls, polls_before) << "the runtime must be woken for the rest";
    EXPECT_EQ(run_until_catching(rt, [&] { return ended.has_value(); }), 0);
    ASSERT_TRUE(ended.has_value());
    EXPECT_FALSE(ended->has_value());
    EXPECT_EQ(back, (std::vector<int>{1, 2, 3}));
  }
  run(rt);
  EXPECT_TRUE(c.balanced());
}

// The receiver destroys the handle (its owner) on the first value: nothing more is
// delivered to it, the values left are destroyed, and the end is still reported.
TEST(piped_thread,
     destroying_the_handle_inside_the_receiver_delivers_nothing_more_but_reports_the_end) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  {
    std::vector<int> back;
    std::optional<end_t> ended;
    std::atomic<bool> body_done{false};
    std::unique_ptr<piped_thread<int, counted>> owner;
    owner = std::make_unique<piped_thread<int, counted>>(
        rt, fwd_do<counted>([&](counted v) {
          back.push_back(v.value());
          owner.reset();
        }),
        fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }),
        [&c, &body_done](piped_link<int, counted>& link) {
          for (int i = 1; i <= 3; ++i) link.send(counted(c, i));
          body_done = true;
        });
    wait_for(body_done);
    run_until(rt, [&] { return ended.has_value(); });
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(back, (std::vector<int>{1}));
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

// One thread's receiver destroys another thread's handle while that one's values wait in
// the same run: they are destroyed undelivered, and its end is still reported. (The
// killer is made first, so its waker's handler runs first.)
TEST(piped_thread, a_receiver_that_destroys_another_handle_stops_that_ones_delivery) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  {
    std::vector<int> got_other;
    std::optional<end_t> other_end, killer_end;
    std::atomic<bool> other_sent{false}, killer_sent{false};
    std::unique_ptr<piped_thread<int, counted>> other;
    piped_thread<int, int> killer(
        rt, fwd_do<int>([&other](int) { other.reset(); }),
        fwd_do<end_t>([&killer_end](end_t e) { killer_end = std::move(e); }),
        [&killer_sent](piped_link<int, int>& link) {
          if (link.recv()) link.send(1);
          killer_sent = true;
        });
    other = std::make_unique<piped_thread<int, counted>>(
        rt, fwd_do<counted>([&got_other](counted v) { got_other.push_back(v.value()); }),
        fwd_do<end_t>([&other_end](end_t e) { other_end = std::move(e); }),
        [&c, &other_sent](piped_link<int, counted>& link) {
          for (int i = 1; i <= 3; ++i) link.send(counted(c, i));
          other_sent = true;
          while (link.recv()) {
          }
        });
    wait_for(other_sent);
    killer.send(0);
    wait_for(killer_sent);
    run_until(rt, [&] { return other_end.has_value() && killer_end.has_value(); });
    EXPECT_TRUE(got_other.empty());
    EXPECT_TRUE(other_end.has_value());
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(piped_thread, a_throwing_end_callback_propagates_and_is_called_once) {
  runtime rt;
  rt.set_poll_waker([] {});
  int ends = 0;
  piped_thread<int, int> t(rt, fwd_do<int>([](int) {}), fwd_do<end_t>([&ends](end_t) {
                             ++ends;
                             throw std::runtime_error("end broke");
                           }),
                           [](piped_link<int, int>&) {});
  EXPECT_EQ(run_until_catching(rt, [&] { return ends > 0; }), 1);
  for (int i = 0; i < 5; ++i) run(rt);
  EXPECT_EQ(ends, 1);
}

// on_end destroys its own handle (the owner stopping on the end) and starts a new thread,
// whose own end then comes too.
TEST(piped_thread, an_end_callback_may_destroy_its_handle_and_start_another_thread) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::unique_ptr<piped_thread<int, int>> owner, next;
  int ends = 0, next_ends = 0;
  owner = std::make_unique<piped_thread<int, int>>(
      rt, fwd_do<int>([](int) {}), fwd_do<end_t>([&](end_t) {
        ++ends;
        owner.reset();
        next = std::make_unique<piped_thread<int, int>>(
            rt, fwd_do<int>([](int) {}), fwd_do<end_t>([&next_ends](end_t) { ++next_ends; }),
            [](piped_link<int, int>&) {});
      }),
      [](piped_link<int, int>&) {});
  run_until(rt, [&] { return next_ends > 0; });
  EXPECT_EQ(ends, 1);
  EXPECT_EQ(next_ends, 1);
  EXPECT_FALSE(owner);
}

// Starting threads and channels from the receiver grows the waker table under it.
TEST(piped_thread, a_receiver_that_starts_threads_and_channels_keeps_receiving) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<int> back;
  std::optional<end_t> ended;
  int inner_ends = 0;
  std::vector<std::unique_ptr<piped_thread<int, int>>> started;
  std::vector<std::pair<stakker::channel<int>, stakker::channel_guard<int>>> channels;
  piped_thread<int, int> t(
      rt, fwd_do<int>([&](int v) {
        back.push_back(v);
        for (int i = 0; i < 40; ++i)
          channels.push_back(stakker::make_channel<int>(rt, stakker::fwd_nop<int>()));
        started.push_back(std::make_unique<piped_thread<int, int>>(
            rt, stakker::fwd_nop<int>(), fwd_do<end_t>([&inner_ends](end_t) { ++inner_ends; }),
            [](piped_link<int, int>&) {}));
      }),
      fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }), [](piped_link<int, int>& link) {
        for (int i = 1; i <= 5; ++i) link.send(i);
      });
  run_until(rt, [&] { return ended.has_value() && inner_ends == 5; });
  EXPECT_EQ(back, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(inner_ends, 5);
}

}  // namespace
