// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/timers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "model/choices.hpp"
#include "model/timers_model.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/timer_key.hpp"

// A randomized model test of the timers: random operations on a runtime in virtual time,
// checked against a simple reference model of the same semantics (tests/model/timers_model.hpp,
// shared with tests/fuzz/timers_fuzz), comparing the exact order
// and run time of every firing, and every result (del/upd/active), the pending count, the
// number of live closures and next_expiry after every operation.
//
// The seed is printed on failure; set STAKKER_MODEL_SEED to rerun with a given seed.

namespace {

using namespace std::chrono_literals;
using stakker::core;
using stakker::instant;
using stakker::max_timer_key;
using stakker::min_timer_key;
using stakker::runtime;
using stakker::timer_key;
using stakker::model::kind;
using stakker::model::rng;
using stakker::model::tick;
using stakker::model::timers_model;
using stakker::testing::counted;
using stakker::testing::counts;
using namespace stakker::model::ticks;

constexpr std::uint64_t default_seed = 0x5eed'7153'2024'0003ull;

std::uint64_t model_seed() { return stakker::model::model_seed(default_seed); }

// ---- the harness ----

struct harness;

// A timer closure: records its id (kept in the counted) when it fires; a `chain` closure
// also adds a fixed timer from inside the run. `Big` ones are too large to be stored inline.
template <bool Big>
struct model_closure {
  harness* h;
  counted k;
  bool chain;
  std::array<char, Big ? 48 : 1> pad{};
  void operator()(core& c);
};
static_assert(sizeof(model_closure<false>) <= stakker::detail::timer_store::inline_bytes);
static_assert(sizeof(model_closure<true>) > stakker::detail::timer_store::inline_bytes);

template <class Key>
struct key_list {
  // (key, model id), a ring of the most recent keys; older ones have mostly gone stale.
  static constexpr std::size_t cap = 4096;
  std::vector<std::pair<Key, int>> keys;
  std::size_t added = 0;
  void add(Key k, int id) {
    if (keys.size() < cap)
      keys.emplace_back(k, id);
    else
      keys[added % cap] = {k, id};
    ++added;
  }
  // One of the `n` most recent keys (there must be one).
  std::pair<Key, int> recent(rng& r, std::int64_t n) const {
    auto size = static_cast<std::int64_t>(keys.size());
    std::int64_t back = r.below(std::min(n, size));
    auto last = static_cast<std::int64_t>((added - 1) % cap);
    return keys[static_cast<std::size_t>((last - back + size) % size)];
  }
  // Half the time one of the 32 most recent keys (likely live), else any (likely stale);
  // sometimes, or when there is none, a default-constructed key (id -1).
  std::pair<Key, int> pick(rng& r) const {
    if (keys.empty() || r.below(50) == 0) return {Key{}, -1};
    auto n = static_cast<std::int64_t>(keys.size());
    std::int64_t back = r.below(2) == 0 ? r.below(std::min<std::int64_t>(n, 32)) : r.below(n);
    auto last = static_cast<std::int64_t>((added - 1) % cap);
    return keys[static_cast<std::size_t>((last - back + n) % n)];
  }
};

struct harness {
  counts cnt;  // outlives the runtime
  const instant start = instant(std::chrono::hours(1));
  std::optional<runtime> rt;
  rng r;
  timers_model m;
  int next_id = 0;  // the implementation side's own count of timers added
  std::vector<std::pair<int, tick>> log;
  key_list<timer_key> fixed_keys;
  key_list<max_timer_key> max_keys;
  key_list<min_timer_key> min_keys;

  explicit harness(std::uint64_t seed) : r{seed} { rt.emplace(start); }

  tick tick_of(instant t) const { return std::chrono::nanoseconds(t - start).count(); }
  instant at(tick t) const { return start + std::chrono::nanoseconds(t); }

  // Deterministic from the new timer's id, so the model can mirror it.
  static tick chain_delay(int id) { return (static_cast<tick>(id) * 2654435761 % 4) * ms; }
  static bool chain_again(int id) { return id % 3 == 0; }

  template <bool Big>
  model_closure<Big> make(int id, bool chain) {
    return model_closure<Big>{this, counted(cnt, id), chain};
  }

  // Adds a fixed timer at `t` through `c`, as the implementation side; returns its id.
  int add_fixed(core& c, instant t, bool big, bool chain) {
    int id = next_id++;
    timer_key k = big ? c.at(t, make<true>(id, chain)) : c.at(t, make<false>(id, chain));
    EXPECT_TRUE(static_cast<bool>(k));
    fixed_keys.add(k, id);
    return id;
  }

  void fired(core& c, int id, bool chain) {
    log.emplace_back(id, tick_of(c.now()));
    if (chain) {
      int nid = next_id;  // add_fixed takes it
      add_fixed(c, c.now() + std::chrono::nanoseconds(chain_delay(nid)), nid % 5 == 0,
                chain_again(nid));
    }
  }

  // A random expiry relative to now: in the past, now, ties, near, far, days.
  tick random_expiry() {
    tick now = m.now;
    std::int64_t p = r.below(100);
    if (p < 5) return now - r.in(0, sec);
    if (p < 10) return now;
    if (p < 15) return now + r.in(1, 1000);
    if (p < 60) return now + r.in(0, 20) * ms;
    if (p < 85) return now + r.in(0, 50 * ms);
    if (p < 95) return now + r.in(0, 2 * sec);
    if (p < 99) return now + r.in(0, hour);
    return now + r.in(0, 3 * day);
  }

  // Runs both sides to `to` (the implementation even if `to` is not later) and compares.
  ::testing::AssertionResult run_to(tick to) {
    std::vector<int> ids;
    m.advance(to, ids);
    std::vector<std::pair<int, tick>> expected;
    for (int id : ids) expected.emplace_back(id, m.now);
    // Mirror the chain closures: they run after every timer due in this run, in firing
    // order, and add fixed timers with the next ids.
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!chain_of(ids[i])) continue;
      int nid = static_cast<int>(m.timers.size());
      m.add(kind::fixed, m.now + chain_delay(nid));
      set_chain(nid, chain_again(nid));
    }
    log.clear();
    rt->run(at(to), false);
    if (log != expected) {
      auto f = ::testing::AssertionFailure()
               << "firings differ in the run at " << to << " ns:\n  expected (id, time):";
      for (auto& e : expected) f << " (" << e.first << ", " << e.second << ")";
      f << "\n  actual:";
      for (auto& e : log) f << " (" << e.first << ", " << e.second << ")";
      return f;
    }
    return ::testing::AssertionSuccess();
  }

  // Which model ids are chain timers.
  std::vector<bool> chains;
  bool chain_of(int id) const {
    return static_cast<std::size_t>(id) < chains.size() && chains[static_cast<std::size_t>(id)];
  }
  void set_chain(int id, bool chain) {
    if (chains.size() <= static_cast<std::size_t>(id))
      chains.resize(static_cast<std::size_t>(id) + 1);
    chains[static_cast<std::size_t>(id)] = chain;
  }

  // Checks the state both sides agree on after every operation.
  ::testing::AssertionResult consistent(bool check_next_expiry) {
    core& c = *rt;
    if (c.timer_count() != m.live)
      return ::testing::AssertionFailure()
             << "timer_count " << c.timer_count() << ", model " << m.live;
    if (cnt.alive() != static_cast<long>(m.live))
      return ::testing::AssertionFailure()
             << "live closures " << cnt.alive() << ", model timers " << m.live;
    if (cnt.double_destroys != 0) return ::testing::AssertionFailure() << "double destroy";
    if (next_id != static_cast<int>(m.timers.size()))
      return ::testing::AssertionFailure()
             << "timers added " << next_id << ", model " << m.timers.size();
    std::optional<instant> ne = rt->next_expiry();
    if (ne.has_value() != (m.live > 0))
      return ::testing::AssertionFailure() << "next_expiry has a value: " << ne.has_value()
                                           << ", model timers pending " << m.live;
    if (check_next_expiry && ne) {
      tick t = tick_of(*ne);
      tick lo = *m.earliest_entry();
      tick hi = *m.earliest_live_entry();
      if (t < lo || t > hi || t <= m.now)
        return ::testing::AssertionFailure() << "next_expiry " << t << " not in [" << lo << ", "
                                             << hi << "] (now " << m.now << ")";
    }
    return ::testing::AssertionSuccess();
  }
};

template <bool Big>
void model_closure<Big>::operator()(core& c) {
  h->fired(c, k.value(), chain);
}

TEST(timers_model, random_operations_match_the_reference_model) {
  const std::uint64_t seed = model_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with STAKKER_MODEL_SEED=" + std::to_string(seed) + ")");
  harness h(seed);
  rng& r = h.r;
  timers_model& m = h.m;
  core& c = *h.rt;
  const long model_ops = stakker::model::model_ops();

  long fired_total = 0, max_moved = 0, min_moved = 0, stale_ops = 0;
  std::size_t max_live = 0;
  std::vector<std::pair<timer_key, int>> timeouts;  // set in the cancel-heavy phase
  for (long op = 0; op < model_ops; ++op) {
    // Phases of 50k operations: normal; build-up (few small advances, many timers pending,
    // so the store grows); delete- and update-heavy; cancel-heavy (timers set and deleted
    // soon after, as timeouts are, while time moves slowly: the stale entries left behind
    // make the store compact itself, many times).
    const long phase = op / 50'000 % 4;
    const std::int64_t advance_pct = phase == 1 ? 2 : phase == 3 ? 5 : 25;
    std::int64_t p = r.below(100);
    bool ran = false;
    if (p < advance_pct) {
      std::int64_t q = r.below(100);
      tick to = m.now;
      if (phase == 1) {
        to = m.now + r.in(0, 20'000);  // small steps only (up to 20 us)
      } else if (phase == 3) {
        to = m.now + r.in(0, 20'000);
      } else if (q < 15) {
        // zero: a run at the same time
      } else if (q < 20) {
        to = m.now - r.in(1, sec);  // an earlier time: ignored
      } else if (q < 75) {
        to = m.now + r.in(1, 10 * ms);
      } else if (q < 90) {
        to = m.now + r.in(0, 100 * ms);
      } else if (q < 97) {
        to = m.now + r.in(0, 5 * sec);
      } else if (q < 99) {
        to = m.now + r.in(0, 2 * hour);
      } else {
        to = m.now + r.in(0, 3 * day);
      }
      ASSERT_TRUE(h.run_to(to)) << "op " << op;
      fired_total += static_cast<long>(h.log.size());
      ran = true;
    } else {
      p = r.below(100);
      if (phase == 1) p = r.below(65);  // no deletions while building up
      if (phase == 3) {
        // A timeout set, then (mostly) cancelled soon after: one of the last few set. Now and
        // then a max timer pushed later or a min timer brought earlier, pending while the
        // store compacts.
        std::int64_t q = r.below(100);
        if (q < 4) {
          tick t = m.now + r.in(1, 5 * sec);
          tick u = q < 2 ? t + r.in(1, 5 * sec) : t - r.in(0, t - m.now);
          kind k = q < 2 ? kind::max : kind::min;
          int id = m.add(k, t);
          int got = h.next_id++;
          ASSERT_EQ(got, id);
          m.upd(id, u);
          if (k == kind::max) {
            max_timer_key mk = c.timer_max_add(h.at(t), h.make<false>(id, false));
            ASSERT_TRUE(c.timer_max_upd(mk, h.at(u)));
            h.max_keys.add(mk, id);
          } else {
            min_timer_key mk = c.timer_min_add(h.at(t), h.make<true>(id, false));
            ASSERT_TRUE(c.timer_min_upd(mk, h.at(u)));
            h.min_keys.add(mk, id);
          }
        } else if (r.below(2) == 0 || timeouts.empty()) {
          tick t = m.now + r.in(1, 10 * sec);
          int id = m.add(kind::fixed, t);
          ASSERT_EQ(h.add_fixed(c, h.at(t), r.below(10) == 0, false), id) << "op " << op;
          timeouts.push_back(h.fixed_keys.recent(r, 1));
        } else {
          auto n = static_cast<std::int64_t>(timeouts.size());
          auto i = static_cast<std::size_t>(n - 1 - r.below(std::min<std::int64_t>(n, 8)));
          auto [k, id] = timeouts[i];
          timeouts[i] = timeouts.back();
          timeouts.pop_back();
          bool expect = m.del(id);
          if (!expect) ++stale_ops;
          ASSERT_EQ(c.timer_del(k), expect) << "op " << op << " del id " << id;
        }
        max_live = std::max(max_live, m.live);
        ASSERT_TRUE(h.consistent(false)) << "op " << op;
        continue;
      }
      if (phase == 2) p = r.below(2) == 0 ? 40 + r.below(25) : 65 + r.below(35);
      if (p < 25) {
        tick t = h.random_expiry();
        bool big = r.below(10) == 0;
        bool chain = r.below(8) == 0;
        int id = m.add(kind::fixed, t);
        h.set_chain(id, chain);
        // Both after (relative to now) and at.
        if (r.below(2) == 0) {
          int got = h.next_id++;
          ASSERT_EQ(got, id);
          auto d = std::chrono::nanoseconds(t - m.now);
          timer_key k =
              big ? c.after(d, h.make<true>(id, chain)) : c.after(d, h.make<false>(id, chain));
          ASSERT_TRUE(static_cast<bool>(k));
          h.fixed_keys.add(k, id);
        } else {
          ASSERT_EQ(h.add_fixed(c, h.at(t), big, chain), id) << "op " << op;
        }
      } else if (p < 32) {
        tick t = h.random_expiry();
        bool big = r.below(10) == 0;
        int id = m.add(kind::max, t);
        int got = h.next_id++;
        ASSERT_EQ(got, id);
        max_timer_key k = big ? c.timer_max_add(h.at(t), h.make<true>(id, false))
                              : c.timer_max_add(h.at(t), h.make<false>(id, false));
        ASSERT_TRUE(static_cast<bool>(k));
        h.max_keys.add(k, id);
      } else if (p < 40) {
        tick t = h.random_expiry();
        bool big = r.below(10) == 0;
        int id = m.add(kind::min, t);
        int got = h.next_id++;
        ASSERT_EQ(got, id);
        min_timer_key k = big ? c.timer_min_add(h.at(t), h.make<true>(id, false))
                              : c.timer_min_add(h.at(t), h.make<false>(id, false));
        ASSERT_TRUE(static_cast<bool>(k));
        h.min_keys.add(k, id);
      } else if (p < 55) {
        auto [k, id] = h.max_keys.pick(r);
        tick t = h.random_expiry();
        tick before = m.active(id) ? m.timers[static_cast<std::size_t>(id)].target : 0;
        bool expect = m.upd(id, t);
        if (expect && m.timers[static_cast<std::size_t>(id)].target != before) ++max_moved;
        if (!expect) ++stale_ops;
        ASSERT_EQ(c.timer_max_upd(k, h.at(t)), expect) << "op " << op << " max upd id " << id;
      } else if (p < 65) {
        auto [k, id] = h.min_keys.pick(r);
        tick t = h.random_expiry();
        tick before = m.active(id) ? m.timers[static_cast<std::size_t>(id)].target : 0;
        bool expect = m.upd(id, t);
        if (expect && m.timers[static_cast<std::size_t>(id)].target != before) ++min_moved;
        if (!expect) ++stale_ops;
        ASSERT_EQ(c.timer_min_upd(k, h.at(t)), expect) << "op " << op << " min upd id " << id;
      } else if (p < 90) {
        std::int64_t which = r.below(3);
        bool expect = false, got = false;
        int id = -1;
        if (which == 0) {
          auto [k, i] = h.fixed_keys.pick(r);
          id = i;
          expect = m.del(id);
          got = c.timer_del(k);
        } else if (which == 1) {
          auto [k, i] = h.max_keys.pick(r);
          id = i;
          expect = m.del(id);
          got = c.timer_max_del(k);
        } else {
          auto [k, i] = h.min_keys.pick(r);
          id = i;
          expect = m.del(id);
          got = c.timer_min_del(k);
        }
        if (!expect) ++stale_ops;
        ASSERT_EQ(got, expect) << "op " << op << " del kind " << which << " id " << id;
      } else {
        std::int64_t which = r.below(3);
        if (which == 0) {
          auto [k, id] = h.fixed_keys.pick(r);
          ASSERT_EQ(c.timer_active(k), m.active(id)) << "op " << op << " id " << id;
        } else if (which == 1) {
          auto [k, id] = h.max_keys.pick(r);
          ASSERT_EQ(c.timer_max_active(k), m.active(id)) << "op " << op << " id " << id;
        } else {
          auto [k, id] = h.min_keys.pick(r);
          ASSERT_EQ(c.timer_min_active(k), m.active(id)) << "op " << op << " id " << id;
        }
      }
    }
    max_live = std::max(max_live, m.live);
    ASSERT_TRUE(h.consistent(ran)) << "op " << op;
  }
  // Drain: one run far past everything still pending.
  ASSERT_TRUE(h.run_to(m.now + 1000 * day));
  fired_total += static_cast<long>(h.log.size());
  ASSERT_TRUE(h.consistent(true));

  // The workload did what it is meant to exercise.
  EXPECT_GT(fired_total, model_ops / 10);
  EXPECT_GT(max_moved, model_ops / 500);
  EXPECT_GT(min_moved, model_ops / 500);
  EXPECT_GT(stale_ops, model_ops / 100);
  EXPECT_GT(max_live, 10'000u);

  // Every closure, fired, deleted or pending, destroyed exactly once.
  h.rt.reset();
  EXPECT_TRUE(h.cnt.balanced()) << "alive " << h.cnt.alive() << " double " << h.cnt.double_destroys;
  std::printf(
      "timers model: %ld operations, %ld firings, %ld max and %ld min moves, %ld stale-key "
      "operations, up to %zu pending, seed %llu\n",
      model_ops, fired_total, max_moved, min_moved, stale_ops, max_live,
      static_cast<unsigned long long>(seed));
}

TEST(timers_model, destroying_the_runtime_mid_run_destroys_every_pending_closure_once) {
  const std::uint64_t seed = model_seed() ^ 0xabcdefull;
  SCOPED_TRACE("seed " + std::to_string(seed));
  harness h(seed);
  core& c = *h.rt;
  for (int i = 0; i < 20'000; ++i) {
    tick t = h.random_expiry();
    int id = h.m.add(static_cast<kind>(h.r.below(3)), t);
    int got = h.next_id++;
    ASSERT_EQ(got, id);
    bool big = h.r.below(4) == 0;
    switch (h.m.timers[static_cast<std::size_t>(id)].k) {
      case kind::fixed:
        h.fixed_keys.add(
            big ? c.at(h.at(t), h.make<true>(id, false)) : c.at(h.at(t), h.make<false>(id, false)),
            id);
        break;
      case kind::max: {
        auto k = big ? c.timer_max_add(h.at(t), h.make<true>(id, false))
                     : c.timer_max_add(h.at(t), h.make<false>(id, false));
        tick u = h.random_expiry();
        h.m.upd(id, u);
        c.timer_max_upd(k, h.at(u));
        break;
      }
      case kind::min: {
        auto k = big ? c.timer_min_add(h.at(t), h.make<true>(id, false))
                     : c.timer_min_add(h.at(t), h.make<false>(id, false));
        tick u = h.random_expiry();
        h.m.upd(id, u);
        c.timer_min_upd(k, h.at(u));
        break;
      }
    }
    if (i % 1000 == 999) {
      ASSERT_TRUE(h.run_to(h.m.now + h.r.in(0, 50 * ms)));
    }
  }
  ASSERT_TRUE(h.consistent(true));
  ASSERT_GT(h.m.live, 1000u);
  h.rt.reset();
  EXPECT_TRUE(h.cnt.balanced()) << "alive " << h.cnt.alive() << " double " << h.cnt.double_destroys;
}

}  // namespace
