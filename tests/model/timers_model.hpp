// SPDX-License-Identifier: MIT OR Apache-2.0
// The reference model of the timers (fixed, max and min timers), shared by the timers model
// test (tests/core/timers_model_test.cpp) and the timers fuzz target: the same semantics as
// core's timers, written for clarity (a std::set of entries), not speed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

namespace stakker::model {

// Model time: nanoseconds since the runtime's start.
using tick = std::int64_t;
namespace ticks {
constexpr tick ms = 1'000'000;
constexpr tick sec = 1000 * ms;
constexpr tick hour = 3600 * sec;
constexpr tick day = 24 * hour;
}  // namespace ticks

enum class kind { fixed, max, min };

// Timers by id (ids are given in the order timers are added). Entries (time, seq, id) are
// processed in order; a timer fires when an entry of it is reached and it is still pending:
// - a deleted timer's entries are skipped;
// - a max timer has one entry, first at its first expiry; reached with a later target, it is
//   re-inserted at the target with its seq (it keeps its place among timers due then);
// - a min timer updated earlier gets a new entry at the new time (a new seq); an entry not
//   at its current target is skipped.
// Expiries are clamped to at least now + 1 (a timer never fires in the run it was set in).
struct timers_model {
  struct timer {
    kind k;
    tick target;
    bool alive;
  };
  std::vector<timer> timers;
  std::set<std::tuple<tick, std::uint64_t, int>> entries;
  std::uint64_t seq = 0;
  tick now = 0;
  std::size_t live = 0;

  tick clamp(tick t) const { return t < now + 1 ? now + 1 : t; }

  int add(kind k, tick t) {
    t = clamp(t);
    int id = static_cast<int>(timers.size());
    timers.push_back({k, t, true});
    entries.emplace(t, seq++, id);
    ++live;
    return id;
  }
  bool active(int id) const { return id >= 0 && timers[static_cast<std::size_t>(id)].alive; }
  bool del(int id) {
    if (!active(id)) return false;
    timers[static_cast<std::size_t>(id)].alive = false;
    --live;
    return true;
  }
  bool upd(int id, tick t) {
    if (!active(id)) return false;
    timer& tm = timers[static_cast<std::size_t>(id)];
    t = clamp(t);
    if (tm.k == kind::max) {
      if (t > tm.target) tm.target = t;
    } else if (tm.k == kind::min && t < tm.target) {
      tm.target = t;
      entries.emplace(t, seq++, id);
    }
    return true;
  }
  // Moves time to `to` (if later) and appends the ids that fire, in order.
  void advance(tick to, std::vector<int>& fired) {
    if (to <= now) return;
    now = to;
    while (!entries.empty() && std::get<0>(*entries.begin()) <= now) {
      auto [when, s, id] = *entries.begin();
      entries.erase(entries.begin());
      timer& tm = timers[static_cast<std::size_t>(id)];
      if (!tm.alive) continue;
      if (tm.k == kind::max && tm.target > when) {
        entries.emplace(tm.target, s, id);
        continue;
      }
      if (tm.k == kind::min && tm.target != when) continue;
      tm.alive = false;
      --live;
      fired.push_back(id);
    }
  }
  // The earliest entry of any kind (a lower bound for next_expiry: the store may drop stale
  // entries, never keep one the model does not have) and the earliest entry that can still
  // fire or re-arm (an upper bound: next_expiry is never late).
  std::optional<tick> earliest_entry() const {
    if (entries.empty()) return std::nullopt;
    return std::get<0>(*entries.begin());
  }
  std::optional<tick> earliest_live_entry() const {
    for (const auto& [when, s, id] : entries) {
      const timer& tm = timers[static_cast<std::size_t>(id)];
      if (tm.alive && (tm.k != kind::min || tm.target == when)) return when;
    }
    return std::nullopt;
  }
};

}  // namespace stakker::model
