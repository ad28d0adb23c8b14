// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/timer_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "stakker/runtime.hpp"

// The store's memory policy and slot order, seen from its own interface (the timers'
// semantics are tested through the runtime in tests/core/timers*_test.cpp).

namespace {

using stakker::core;
using stakker::runtime;
using stakker::detail::flat_queue;
using stakker::detail::tick;
using stakker::detail::timer_kind;
using stakker::detail::timer_store;

// Adds `n` timers due at base + 1 .. base + n (spread, so they pass through many buckets),
// then fires them all; returns how many fired.
std::size_t fill_and_drain(timer_store& st, tick base, std::size_t n) {
  runtime rt;
  flat_queue q;
  std::size_t fired = 0;
  for (std::size_t i = 0; i < n; ++i)
    st.add(timer_kind::fixed, base + 1 + (i * 7919) % n * 1000, [&fired](core&) { ++fired; });
  st.expire(base + 1 + n * 1000, q);
  q.run_all(rt);
  return fired;
}

TEST(timer_store, entry_blocks_are_kept_when_the_store_drains) {
  timer_store st;
  ASSERT_EQ(fill_and_drain(st, 0, 20000), 20000u);
  const std::size_t grown = st.entry_capacity();
  EXPECT_GT(grown, 20000 * 24u);
  EXPECT_EQ(st.size(), 0u);
  // Drained, the blocks are spare, not freed: filling again reuses them (a few more blocks
  // at most: the same timers at other times spread a little differently over the buckets).
  ASSERT_EQ(fill_and_drain(st, 30'000'000, 20000), 20000u);
  EXPECT_LE(st.entry_capacity(), grown + grown / 20);
}

TEST(timer_store, trim_keeps_the_blocks_used_since_the_previous_trim) {
  timer_store st;
  ASSERT_EQ(fill_and_drain(st, 0, 20000), 20000u);
  const std::size_t grown = st.entry_capacity();
  st.trim();  // the period that ends here needed them (all but a few spare ones)
  EXPECT_GE(st.entry_capacity(), grown - grown / 20);
  // A store refilled in every period keeps its blocks through every trim.
  for (int period = 1; period <= 3; ++period) {
    ASSERT_EQ(fill_and_drain(st, static_cast<tick>(period) * 30'000'000, 20000), 20000u);
    st.trim();
    EXPECT_GE(st.entry_capacity(), grown - grown / 20);
    EXPECT_LE(st.entry_capacity(), grown + grown / 20);
  }
}

TEST(timer_store, trim_gives_the_blocks_back_after_a_whole_period_without_need) {
  timer_store st;
  ASSERT_EQ(fill_and_drain(st, 0, 20000), 20000u);
  st.trim();
  const std::size_t grown = st.entry_capacity();
  // A period with a few timers only: its trim frees all but what that period used.
  ASSERT_EQ(fill_and_drain(st, 30'000'000, 10), 10u);
  st.trim();
  EXPECT_LT(st.entry_capacity(), grown / 20);
  // A period with none: nothing is kept.
  st.trim();
  EXPECT_EQ(st.entry_capacity(), 0u);
  // And the store still works afterwards.
  EXPECT_EQ(fill_and_drain(st, 60'000'000, 5000), 5000u);
}

TEST(timer_store, trim_keeps_the_blocks_of_pending_timers) {
  timer_store st;
  runtime rt;
  flat_queue q;
  std::size_t fired = 0;
  for (std::uint64_t i = 0; i < 5000; ++i)
    st.add(timer_kind::fixed, 1 + i * 1000, [&fired](core&) { ++fired; });
  st.trim();
  st.trim();
  EXPECT_GT(st.entry_capacity(), 5000 * 24u);
  st.expire(5000 * 1000, q);
  q.run_all(rt);
  EXPECT_EQ(fired, 5000u);
}

TEST(timer_store, after_the_store_drains_slots_are_handed_out_in_order_again) {
  timer_store st;
  runtime rt;
  flat_queue q;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> first;
  for (tick t : {tick{30}, tick{10}, tick{20}})
    first.push_back(st.add(timer_kind::fixed, t, [](core&) {}));
  st.expire(15, q);  // fires the second: its slot is reused first while others are pending
  EXPECT_EQ(st.add(timer_kind::fixed, 40, [](core&) {}).first, first[1].first);
  st.expire(100, q);
  q.run_all(rt);
  ASSERT_EQ(st.size(), 0u);
  // Drained: slots 0, 1, 2, ... again, in order, with new generations.
  for (std::uint32_t i = 0; i < 4; ++i) {
    auto k = st.add(timer_kind::fixed, 200 + i, [](core&) {});
    EXPECT_EQ(k.first, i);
    if (i < 3) {
      EXPECT_NE(k.second, first[i].second);
    }
  }
  // Stale keys from before the drain match nothing.
  for (auto [s, g] : first) EXPECT_FALSE(st.remove(s, g, timer_kind::fixed));
  EXPECT_EQ(st.size(), 4u);
}

TEST(timer_store, after_every_timer_is_deleted_slots_are_handed_out_in_order_again) {
  timer_store st;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> keys;
  for (tick t = 1; t <= 100; ++t) keys.push_back(st.add(timer_kind::fixed, t * 10, [](core&) {}));
  for (std::size_t i = 0; i < keys.size(); i += 2)
    EXPECT_TRUE(st.remove(keys[i].first, keys[i].second, timer_kind::fixed));
  for (std::size_t i = 1; i < keys.size(); i += 2)
    EXPECT_TRUE(st.remove(keys[i].first, keys[i].second, timer_kind::fixed));
  ASSERT_EQ(st.size(), 0u);
  for (std::uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(st.add(timer_kind::fixed, 5000, [](core&) {}).first, i);
}

// Fires `times` (added in that order, all due at once) and returns the insertion indexes in
// the order they fired.
std::vector<std::size_t> firing_order(const std::vector<tick>& times) {
  timer_store st;
  runtime rt;
  flat_queue q;
  std::vector<std::size_t> fired;
  for (std::size_t i = 0; i < times.size(); ++i)
    st.add(timer_kind::fixed, times[i], [&fired, i](core&) { fired.push_back(i); });
  st.expire(*std::max_element(times.begin(), times.end()), q);
  q.run_all(rt);
  return fired;
}

// A due run is sorted by radix passes down to small parts, then insertion-sorted: the
// shapes below reach every path (one time only, a dense cluster inside a wide spread, parts
// past the insertion sort's size, ties across and inside parts).
TEST(timer_store, a_due_run_fires_in_time_then_insertion_order_whatever_the_spread_of_its_times) {
  const std::uint64_t seed = 0x7153'0a11ull;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 r(seed);
  auto uniform = [&r](tick lo, tick hi) { return std::uniform_int_distribution<tick>(lo, hi)(r); };
  std::vector<std::vector<tick>> shapes;
  shapes.emplace_back(3000, tick{777});  // one time
  {
    std::vector<tick> t;  // a few distinct times, many ties each
    for (int i = 0; i < 5000; ++i) t.push_back(1000 + uniform(0, 6) * 3);
    shapes.push_back(t);
  }
  {
    std::vector<tick> t;  // a dense cluster (parts far over the insertion size) in a spread
    for (int i = 0; i < 20000; ++i)
      t.push_back(i % 4 == 0 ? uniform(1, tick{1} << 40) : 5'000'000 + uniform(0, 200));
    shapes.push_back(t);
  }
  {
    std::vector<tick> t;  // spread over decades, as mixed timeouts are
    for (int i = 0; i < 20000; ++i) t.push_back(uniform(1, tick{1} << uniform(4, 44)));
    shapes.push_back(t);
  }
  {
    std::vector<tick> t;  // uniform, with ties from a narrow range
    for (int i = 0; i < 50000; ++i) t.push_back(uniform(100, 30000));
    shapes.push_back(t);
  }
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    SCOPED_TRACE("shape " + std::to_string(k));
    const std::vector<tick>& times = shapes[k];
    std::vector<std::size_t> want(times.size());
    for (std::size_t i = 0; i < want.size(); ++i) want[i] = i;
    std::stable_sort(want.begin(), want.end(),
                     [&times](std::size_t a, std::size_t b) { return times[a] < times[b]; });
    EXPECT_EQ(firing_order(times), want);
  }
}

// Deleting leaves the stale entries (a burst of deletes scans nothing); the next timer set
// drops them once they outnumber twice the live ones plus 1024, so the heap stays bounded
// by the live timers; deleting the last timer drops them all.
TEST(timer_store, stale_entries_are_dropped_by_the_next_add_once_they_outnumber_the_live_ones) {
  timer_store st;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> keys;
  for (tick t = 1; t <= 10000; ++t)
    keys.push_back(st.add(timer_kind::fixed, t * 1000, [](core&) {}));
  for (std::size_t i = 0; i < 9000; ++i)
    ASSERT_TRUE(st.remove(keys[i].first, keys[i].second, timer_kind::fixed));
  EXPECT_EQ(st.size(), 1000u);
  EXPECT_EQ(st.entry_count(), 10000u);  // nothing compacted by the deletes
  keys.push_back(st.add(timer_kind::fixed, 5, [](core&) {}));
  EXPECT_EQ(st.entry_count(), 1001u);  // the live ones and the new one
  // Under the bound, an add keeps the stale entries.
  for (std::size_t i = 9000; i < 9500; ++i)
    ASSERT_TRUE(st.remove(keys[i].first, keys[i].second, timer_kind::fixed));
  keys.push_back(st.add(timer_kind::fixed, 6, [](core&) {}));
  EXPECT_EQ(st.entry_count(), 1002u);
  EXPECT_LE(st.entry_count(), 2 * st.size() + 1024 + 1);
  // The last delete drops every entry.
  for (std::size_t i = 9500; i < keys.size(); ++i)
    ASSERT_TRUE(st.remove(keys[i].first, keys[i].second, timer_kind::fixed));
  EXPECT_EQ(st.size(), 0u);
  EXPECT_EQ(st.entry_count(), 0u);
}

}  // namespace
