// SPDX-License-Identifier: MIT OR Apache-2.0
// The timers (fixed, max and min, inline and boxed closures) under random adds, updates,
// deletes, activity queries and runs decoded from the input, against the reference model
// shared with the timers model test (tests/model/timers_model.hpp): every firing in the
// model's order and at its time, every result, the pending count, the live closures and
// next_expiry's bounds after every operation. The input picks its expiries, edge values
// (the past, now, ties, the end of time) included.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "model/choices.hpp"
#include "model/failure.hpp"
#include "model/timers_model.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/timer_key.hpp"

namespace {

using stakker::core;
using stakker::instant;
using stakker::fuzz::require;
using stakker::model::failure;
using stakker::model::kind;
using stakker::model::tick;
using stakker::model::timers_model;
using namespace stakker::model::ticks;

struct harness;

// Records its id when it fires; `Big` ones are too large to be stored inline.
template <bool Big>
struct closure {
  harness* h;
  stakker::testing::counted id;
  std::array<char, Big ? 64 : 1> pad{};
  void operator()(core& c);
};

struct harness {
  stakker::testing::counts cnt;  // outlives the runtime
  const instant start = instant(std::chrono::hours(1));
  std::optional<stakker::runtime> rt{std::in_place, start};
  timers_model m;
  stakker::model::fuzz_input& in;
  std::vector<std::pair<int, tick>> log;
  std::vector<std::pair<stakker::timer_key, int>> fixed;
  std::vector<std::pair<stakker::max_timer_key, int>> maxes;
  std::vector<std::pair<stakker::min_timer_key, int>> mins;

  explicit harness(stakker::model::fuzz_input& i) : in(i) {}

  tick tick_of(instant t) const { return std::chrono::nanoseconds(t - start).count(); }
  instant at(tick t) const { return start + std::chrono::nanoseconds(t); }
  static tick end_of_time(instant start) {
    return std::chrono::nanoseconds(instant::max() - start).count();
  }

  tick expiry() {
    const tick now = m.now;
    switch (in.below(8)) {
      case 0:
        return now - in.in(0, sec);
      case 1:
        return now;
      case 2:
        return now + in.in(1, 3);
      case 3:
        return now + in.below(8) * ms;  // ties
      case 4:
        return now + in.in(0, 100 * ms);
      case 5:
        return now + in.in(0, 3 * day);
      case 6:
        return end_of_time(start);
      default:
        return now + in.in(0, 20'000);
    }
  }

  template <class Keys>
  std::pair<typename Keys::value_type::first_type, int> pick(const Keys& keys) {
    if (keys.empty() || in.below(16) == 0) return {{}, -1};
    return keys[static_cast<std::size_t>(in.below(static_cast<std::int64_t>(keys.size())))];
  }

  std::string step() {
    core& c = *rt;
    const bool big = in.below(4) == 0;
    switch (in.below(9)) {
      case 0: {
        const tick t = expiry();
        const int id = m.add(kind::fixed, t);
        fixed.emplace_back(big ? c.at(at(t), closure<true>{this, counted(id)})
                               : c.at(at(t), closure<false>{this, counted(id)}),
                           id);
        break;
      }
      case 1: {
        const tick t = expiry();
        const int id = m.add(kind::max, t);
        maxes.emplace_back(big ? c.timer_max_add(at(t), closure<true>{this, counted(id)})
                               : c.timer_max_add(at(t), closure<false>{this, counted(id)}),
                           id);
        break;
      }
      case 2: {
        const tick t = expiry();
        const int id = m.add(kind::min, t);
        mins.emplace_back(big ? c.timer_min_add(at(t), closure<true>{this, counted(id)})
                              : c.timer_min_add(at(t), closure<false>{this, counted(id)}),
                          id);
        break;
      }
      case 3: {
        const auto [k, id] = pick(maxes);
        const tick t = expiry();
        if (c.timer_max_upd(k, at(t)) != m.upd(id, t)) return failure("max upd of ", id);
        break;
      }
      case 4: {
        const auto [k, id] = pick(mins);
        const tick t = expiry();
        if (c.timer_min_upd(k, at(t)) != m.upd(id, t)) return failure("min upd of ", id);
        break;
      }
      case 5: {
        const std::int64_t which = in.below(3);
        if (which == 0) {
          const auto [k, id] = pick(fixed);
          if (c.timer_del(k) != m.del(id)) return failure("del of fixed ", id);
        } else if (which == 1) {
          const auto [k, id] = pick(maxes);
          if (c.timer_max_del(k) != m.del(id)) return failure("del of max ", id);
        } else {
          const auto [k, id] = pick(mins);
          if (c.timer_min_del(k) != m.del(id)) return failure("del of min ", id);
        }
        break;
      }
      case 6: {
        const std::int64_t which = in.below(3);
        if (which == 0) {
          const auto [k, id] = pick(fixed);
          if (c.timer_active(k) != m.active(id)) return failure("active of fixed ", id);
        } else if (which == 1) {
          const auto [k, id] = pick(maxes);
          if (c.timer_max_active(k) != m.active(id)) return failure("active of max ", id);
        } else {
          const auto [k, id] = pick(mins);
          if (c.timer_min_active(k) != m.active(id)) return failure("active of min ", id);
        }
        break;
      }
      default: {
        tick to = m.now;
        switch (in.below(4)) {
          case 0:
            break;  // a run at the same time
          case 1:
            to = m.now - in.in(1, sec);
            break;  // an earlier time: ignored
          case 2:
            to = m.now + in.in(1, 30 * ms);
            break;
          default:
            to = m.now + in.in(0, 4 * day);
            break;
        }
        if (std::string err = run_to(to); !err.empty()) return err;
        return consistent(true);
      }
    }
    return consistent(false);
  }

  std::string run_to(tick to) {
    std::vector<int> ids;
    m.advance(to, ids);
    std::vector<std::pair<int, tick>> expected;
    for (int id : ids) expected.emplace_back(id, m.now);
    log.clear();
    rt->run(at(to), false);
    if (log != expected)
      return failure("the run at ", to, " fired ", log.size(), " timers, the model ",
                     expected.size(), " (or in another order)");
    return {};
  }

  std::string consistent(bool check_next_expiry) const {
    if (rt->timer_count() != m.live) return failure("timer_count ", rt->timer_count());
    if (cnt.alive() != static_cast<long>(m.live)) return failure("live closures ", cnt.alive());
    if (cnt.double_destroys != 0) return failure("a closure was destroyed twice");
    const std::optional<instant> ne = rt->next_expiry();
    if (ne.has_value() != (m.live > 0)) return failure("next_expiry has a value: ", ne.has_value());
    if (check_next_expiry && ne) {
      const tick t = tick_of(*ne);
      if (t < *m.earliest_entry() || t > *m.earliest_live_entry() || t <= m.now)
        return failure("next_expiry ", t, " out of the model's bounds");
    }
    return {};
  }

  stakker::testing::counted counted(int id) { return stakker::testing::counted(cnt, id); }
};

template <bool Big>
void closure<Big>::operator()(core& c) {
  h->log.emplace_back(id.value(), h->tick_of(c.now()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stakker::model::fuzz_input in(data, size);
  harness h(in);
  while (!in.exhausted()) stakker::fuzz::require_agreement(h.step());
  stakker::fuzz::require_agreement(h.run_to(h.m.now + 1000 * day));
  stakker::fuzz::require_agreement(h.consistent(true));
  h.rt.reset();
  require(h.cnt.balanced(), "a closure was not destroyed exactly once");
  return 0;
}
