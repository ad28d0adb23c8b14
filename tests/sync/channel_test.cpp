// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/sync/channel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::channel;
using stakker::channel_guard;
using stakker::channel_overflow;
using stakker::core;
using stakker::fwd_do;
using stakker::make_channel;
using stakker::runtime;
using stakker::send_result;
using stakker::testing::counted;
using stakker::testing::counts;

void run(runtime& rt) { rt.run(rt.now(), false); }

TEST(channel, values_arrive_in_order_on_a_later_run_and_only_the_first_wakes_the_loop) {
  runtime rt;
  int polls = 0;
  rt.set_poll_waker([&polls] { ++polls; });
  std::vector<std::string> got;
  auto [ch, guard] = make_channel<std::string>(
      rt, fwd_do<std::string>([&got](std::string s) { got.push_back(std::move(s)); }));
  EXPECT_TRUE(ch.send("a"));
  EXPECT_TRUE(ch.send("b"));
  EXPECT_EQ(polls, 1);
  EXPECT_TRUE(got.empty());
  run(rt);
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(ch.send("c"));
  EXPECT_EQ(polls, 2);
  run(rt);
  EXPECT_EQ(got.back(), "c");
}

TEST(channel, destroying_the_guard_closes_it_and_discards_waiting_values) {
  runtime rt;
  rt.set_poll_waker([] {});
  stakker::testing::counts c;
  int got = 0;
  {
    auto [ch, guard] = make_channel<stakker::testing::counted>(
        rt, fwd_do<stakker::testing::counted>([&got](stakker::testing::counted) { ++got; }));
    EXPECT_TRUE(ch.send(stakker::testing::counted(c)));
    guard.close();
    EXPECT_TRUE(ch.is_closed());
    EXPECT_FALSE(ch.send(stakker::testing::counted(c)));
    EXPECT_EQ(ch.try_send(stakker::testing::counted(c)), send_result::closed);
    run(rt);
  }
  EXPECT_EQ(got, 0);
  EXPECT_TRUE(c.balanced());
}

TEST(channel, a_bounded_channel_with_refuse_reports_full) {
  runtime rt;
  rt.set_poll_waker([] {});
  int got = 0;
  auto [ch, guard] =
      make_channel<int>(rt, fwd_do<int>([&got](int) { ++got; }), 2, channel_overflow::refuse);
  EXPECT_EQ(ch.try_send(1), send_result::sent);
  EXPECT_EQ(ch.try_send(2), send_result::sent);
  EXPECT_EQ(ch.try_send(3), send_result::full);
  run(rt);
  EXPECT_EQ(got, 2);
  EXPECT_EQ(ch.try_send(4), send_result::sent);
}

TEST(channel, a_bounded_channel_with_block_makes_the_producer_thread_wait_for_room) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<int> got;
  auto [ch, guard] = make_channel<int>(rt, fwd_do<int>([&got](int v) { got.push_back(v); }), 4,
                                       channel_overflow::block);
  std::atomic<bool> finished{false};
  std::thread producer([&, ch = ch] {
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(ch.send(i));
    finished.store(true);
  });
  while (!finished.load()) run(rt);
  producer.join();
  run(rt);
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST(channel, a_producer_thread_blocked_on_a_full_channel_is_released_by_close) {
  runtime rt;
  rt.set_poll_waker([] {});
  auto [ch, guard] = make_channel<int>(rt, fwd_do<int>([](int) {}), 1, channel_overflow::block);
  ASSERT_TRUE(ch.send(1));
  std::atomic<int> result{-1};
  std::thread producer([&result, ch = ch] { result = ch.send(2) ? 1 : 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it block (not asserted)
  guard.close();
  producer.join();
  EXPECT_EQ(result.load(), 0);
}

// A producer inside a run of another runtime: its sends would wait for the end of that
// run to cross, so before blocking it makes them visible, or the channel could never drain.
TEST(channel, a_producer_blocked_inside_another_runtimes_run_does_not_hold_back_its_own_sends) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<int> got;
  auto [ch, guard] = make_channel<int>(rt, fwd_do<int>([&got](int v) { got.push_back(v); }), 2,
                                       channel_overflow::block);
  std::atomic<bool> finished{false};
  std::thread producer([&, ch = ch] {
    runtime other;
    other.set_poll_waker([] {});
    other.defer([&](core&) {
      for (int i = 0; i < 10; ++i) EXPECT_TRUE(ch.send(i));
    });
    run(other);
    finished.store(true);
  });
  while (!finished.load()) run(rt);
  producer.join();
  run(rt);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

// 4 producers × 250k messages: none lost, none duplicated, order kept per producer.
// Run under ThreadSanitizer in CI.
TEST(channel, threads_send_concurrently_and_nothing_is_lost_duplicated_or_reordered) {
  runtime rt;
  rt.set_poll_waker([] {});
  constexpr int producers = 4, per_producer = 250000;
  std::vector<int> next(producers, 0);
  bool in_order = true;
  long received = 0;
  auto [ch, guard] =
      make_channel<std::pair<int, int>>(rt, fwd_do<std::pair<int, int>>([&](std::pair<int, int> m) {
                                          auto& n = next[static_cast<std::size_t>(m.first)];
                                          if (m.second != n) in_order = false;
                                          n = m.second + 1;
                                          ++received;
                                        }));
  std::atomic<int> done{0};
  std::vector<std::thread> pool;
  for (int p = 0; p < producers; ++p)
    pool.emplace_back([&, p, ch = ch] {
      for (int i = 0; i < per_producer; ++i) ch.send({p, i});
      done.fetch_add(1);
    });
  while (done.load() < producers) run(rt);
  for (auto& t : pool) t.join();
  run(rt);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(received, long{producers} * per_producer);
  for (int n : next) EXPECT_EQ(n, per_producer);
}

TEST(channel, closing_while_threads_send_stops_delivery_and_fails_later_sends) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::atomic<long> accepted{0};
  long received = 0;
  auto [ch, guard] = make_channel<int>(rt, fwd_do<int>([&received](int) { ++received; }));
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  // Each producer stops after 200k sends: under valgrind, which runs one thread at a time,
  // producers that send without a lock could otherwise outrun the runtime by gigabytes.
  for (int p = 0; p < 4; ++p)
    pool.emplace_back([&, ch = ch] {
      for (long i = 0; i < 200'000 && !stop.load(); ++i)
        if (ch.send(1)) accepted.fetch_add(1);
    });
  for (int i = 0; i < 50; ++i) run(rt);
  guard.close();
  const long at_close = received;
  for (int i = 0; i < 10; ++i) run(rt);
  stop.store(true);
  for (auto& t : pool) t.join();
  EXPECT_EQ(received, at_close);  // nothing delivered after the close
  EXPECT_LE(received, accepted.load());
  EXPECT_TRUE(ch.is_closed());
  EXPECT_FALSE(ch.send(2));
}

// --- Receivers that close, throw, or change the runtime's other channels ---

// An actor-like owner whose guard and state go together.
struct sink {
  channel_guard<counted> guard;
  std::vector<int> got;
};

// The receiver destroys its own owner (and so the guard) on the first value: the rest of
// the drained batch must not reach it (its state is gone: ASan) and is destroyed at once.
TEST(channel, closing_from_inside_the_receiver_delivers_nothing_more_and_destroys_the_rest) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  {
    auto owner = std::make_unique<sink>();
    std::vector<int> log;
    auto [ch, guard] =
        make_channel<counted>(rt, fwd_do<counted>([&owner, raw = owner.get(), &log](counted v) {
                                raw->got.push_back(v.value());  // freed memory if called late
                                log.push_back(v.value());
                                if (v.value() == 1) owner.reset();
                              }));
    owner->guard = std::move(guard);
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(ch.send(counted(c, i)));
    run(rt);
    EXPECT_EQ(log, (std::vector<int>{1}));
    EXPECT_TRUE(ch.is_closed());
    EXPECT_EQ(c.alive(), 0) << "values after the close must be destroyed";
    EXPECT_FALSE(ch.send(counted(c, 5)));
    run(rt);
    EXPECT_EQ(log, (std::vector<int>{1}));
  }
  EXPECT_TRUE(c.balanced());
}

TEST(channel, a_throwing_receiver_propagates_and_the_rest_of_the_batch_arrives_on_the_next_run) {
  runtime rt;
  int polls = 0;
  rt.set_poll_waker([&polls] { ++polls; });
  counts c;
  {
    std::vector<int> got;
    bool thrown = false;
    auto [ch, guard] = make_channel<counted>(rt, fwd_do<counted>([&](counted v) {
                                               got.push_back(v.value());
                                               if (v.value() == 2 && !thrown) {
                                                 thrown = true;
                                                 throw std::runtime_error("receiver broke");
                                               }
                                             }));
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(ch.send(counted(c, i)));
    const int polls_before = polls;
    EXPECT_THROW(run(rt), std::runtime_error);
    EXPECT_EQ(got, (std::vector<int>{1, 2}));
    EXPECT_GT(polls, polls_before) << "the runtime must be woken for the rest";
    run(rt);
    EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4}));
    // Later sends still wake the runtime and arrive.
    const int polls_later = polls;
    ASSERT_TRUE(ch.send(counted(c, 5)));
    EXPECT_EQ(polls, polls_later + 1);
    run(rt);
    EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5}));
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

// One channel's receiver throws: the other channel, woken in the same run, is not
// silenced (its wake-up was collected with the thrower's).
TEST(channel, a_throwing_receiver_does_not_silence_another_channel) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<int> got_b;
  auto [a, guard_a] =
      make_channel<int>(rt, fwd_do<int>([](int) { throw std::runtime_error("a broke"); }));
  auto [b, guard_b] = make_channel<int>(rt, fwd_do<int>([&got_b](int v) { got_b.push_back(v); }));
  ASSERT_TRUE(a.send(1));
  ASSERT_TRUE(b.send(10));
  EXPECT_THROW(run(rt), std::runtime_error);
  run(rt);
  EXPECT_EQ(got_b, (std::vector<int>{10}));
  ASSERT_TRUE(b.send(11));
  run(rt);
  EXPECT_EQ(got_b, (std::vector<int>{10, 11}));
}

// Values sent while the rest of a batch waits (after a throw) come after it, in order.
TEST(channel, values_sent_after_a_throwing_receiver_arrive_after_the_kept_ones_in_order) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<int> got;
  bool thrown = false;
  auto [ch, guard] = make_channel<int>(rt, fwd_do<int>([&](int v) {
                                         got.push_back(v);
                                         if (v == 1 && !thrown) {
                                           thrown = true;
                                           throw std::runtime_error("receiver broke");
                                         }
                                       }));
  ch.send(1);
  ch.send(2);
  EXPECT_THROW(run(rt), std::runtime_error);
  ch.send(3);
  run(rt);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
}

TEST(channel, a_receiver_that_closes_then_throws_loses_nothing_and_delivers_nothing_more) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  {
    std::optional<channel_guard<counted>> holder;
    std::vector<int> got;
    auto [ch, guard] = make_channel<counted>(rt, fwd_do<counted>([&](counted v) {
                                               got.push_back(v.value());
                                               holder.reset();
                                               throw std::runtime_error("closed and broke");
                                             }));
    holder.emplace(std::move(guard));
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(ch.send(counted(c, i)));
    EXPECT_THROW(run(rt), std::runtime_error);
    EXPECT_EQ(c.alive(), 0);
    run(rt);
    run(rt);
    EXPECT_EQ(got, (std::vector<int>{1}));
  }
  EXPECT_TRUE(c.balanced());
}

// One receiver closes another channel whose values were already waiting: none of them is
// delivered afterwards, and all are destroyed.
TEST(channel, a_receiver_that_closes_another_channel_stops_that_ones_delivery) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  {
    std::vector<int> got_a, got_b;
    auto other = std::make_unique<channel_guard<counted>>();
    auto [a, guard_a] = make_channel<counted>(rt, fwd_do<counted>([&](counted v) {
                                                got_a.push_back(v.value());
                                                other.reset();
                                              }));
    auto [b, guard_b] =
        make_channel<counted>(rt, fwd_do<counted>([&](counted v) { got_b.push_back(v.value()); }));
    *other = std::move(guard_b);
    ASSERT_TRUE(b.send(counted(c, 10)));
    ASSERT_TRUE(b.send(counted(c, 11)));
    ASSERT_TRUE(a.send(counted(c, 1)));
    run(rt);
    run(rt);
    EXPECT_EQ(got_a, (std::vector<int>{1}));
    EXPECT_TRUE(got_b.empty());
    EXPECT_TRUE(b.is_closed());
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

// Making channels grows the runtime's waker table under the running receiver.
TEST(channel, a_receiver_that_makes_and_drops_channels_keeps_receiving) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  {
    std::vector<int> got;
    std::vector<std::pair<channel<int>, channel_guard<int>>> made;
    auto [ch, guard] =
        make_channel<counted>(rt, fwd_do<counted>([&](counted v) {
                                for (int i = 0; i < 50; ++i)
                                  made.push_back(make_channel<int>(rt, stakker::fwd_nop<int>()));
                                made.erase(made.begin(), made.begin() + 25);
                                got.push_back(v.value());
                              }));
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(ch.send(counted(c, i)));
    run(rt);
    run(rt);
    EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5}));
    EXPECT_EQ(made.size(), 125u);
    ASSERT_TRUE(made.back().first.send(1));
    run(rt);
  }
  EXPECT_TRUE(c.balanced());
}

// The receiver throws on the last value a previous throw left, while newer values already
// wait in the channel: their one wake-up was this very call, so the runtime must be woken
// again or they would wait forever.
TEST(channel, values_sent_while_a_thrown_batch_is_handed_over_are_not_stranded_by_a_second_throw) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<int> got;
  auto [ch, guard] = make_channel<int>(rt, fwd_do<int>([&got](int v) {
                                         got.push_back(v);
                                         if (v == 1 || v == 2) throw std::runtime_error("no");
                                       }));
  ASSERT_TRUE(ch.send(1));
  ASSERT_TRUE(ch.send(2));
  EXPECT_THROW(run(rt), std::runtime_error);  // 1 delivered; 2 kept
  ASSERT_TRUE(ch.send(3));                    // first into an empty channel: wakes
  EXPECT_THROW(run(rt), std::runtime_error);  // 2 delivered and throws; 3 waits
  ASSERT_TRUE(ch.send(4));                    // not the first: no wake of its own
  for (int i = 0; i < 3; ++i) run(rt);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4}));
}

}  // namespace

// The runtime may go before the guard: the channel then closes with it (values waiting are
// destroyed at its teardown, later sends fail), and the guard, destroyed later, does nothing
// more. Likewise an actor's channel whose actor outlives nothing.
TEST(channel, a_runtime_destroyed_before_the_guard_closes_the_channel_and_later_sends_fail) {
  counts c;
  int got = 0;
  std::optional<channel_guard<counted>> keep_guard;
  std::optional<channel<counted>> keep_channel;
  {
    runtime rt;
    rt.set_poll_waker([] {});
    auto [ch, guard] = make_channel<counted>(rt, fwd_do<counted>([&got](counted) { ++got; }));
    EXPECT_TRUE(ch.send(counted(c)));
    std::thread([&, ch = ch] { EXPECT_TRUE(ch.send(counted(c))); }).join();
    keep_guard.emplace(std::move(guard));
    keep_channel.emplace(ch);
  }
  EXPECT_EQ(got, 0);
  EXPECT_EQ(c.alive(), 0) << "what waited went with the runtime";
  EXPECT_TRUE(keep_channel->is_closed());
  EXPECT_FALSE(keep_channel->send(counted(c)));
  std::thread([&] { EXPECT_FALSE(keep_channel->send(counted(c))); }).join();
  keep_guard.reset();
  keep_channel.reset();
  EXPECT_TRUE(c.balanced());
}
