// SPDX-License-Identifier: MIT OR Apache-2.0
// Time as the runtime sees it: the loop passes `instant`s in, actors read `core::now()`.
#pragma once

#include <chrono>

namespace stakker {

// The runtime only ever compares and subtracts instants, so any loop (real or virtual)
// can drive it with steady_clock values of its own making.
using clock = std::chrono::steady_clock;
using instant = clock::time_point;
using duration = clock::duration;

// `t + d`, clamped to the instants that exist, so that `duration::max()` can mean "never"
// and `duration::min()` "long ago": the plain sum would overflow (undefined behaviour) and
// wrap to a time in the past. Every place the library adds a duration to a time uses this.
constexpr instant saturating_add(instant t, duration d) noexcept {
  duration::rep sum;
  if (__builtin_add_overflow(t.time_since_epoch().count(), d.count(), &sum))
    return d.count() > 0 ? instant::max() : instant::min();
  return instant(duration(sum));
}

// `a - b`, clamped to the durations that exist (as saturating_add).
constexpr duration saturating_sub(instant a, instant b) noexcept {
  duration::rep diff;
  if (__builtin_sub_overflow(a.time_since_epoch().count(), b.time_since_epoch().count(), &diff))
    return a > b ? duration::max() : duration::min();
  return duration(diff);
}

}  // namespace stakker
