// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/detail/stream_timeouts.hpp"

#include <sys/epoll.h>

#include <algorithm>

namespace stakker::loop::detail {

instant stream_timeouts::deadline() const noexcept {
  instant d = instant::max();
  if (idle > duration::zero()) d = std::min(d, saturating_add(last_activity, idle));
  if (read > duration::zero() && input_since) d = std::min(d, saturating_add(*input_since, read));
  if (closing > duration::zero() && closing_since)
    d = std::min(d, saturating_add(*closing_since, closing));
  return d;
}

void stream_timeouts::arm_by(instant t) {
  if (dead || expired || t >= armed || t == instant::max()) return;
  if (key) rt->timer_del(key);
  key = rt->at(t, [self = shared_from_this()](core& c) { self->fire(c); });
  armed = t;
}

void stream_timeouts::fire(core& c) {
  key = {};
  armed = instant::max();
  if (dead || expired) return;
  const instant d = deadline();
  // The runtime's time is the run's start, at or after this timer's expiry; activity
  // since is stamped later (clock::now()), so a deadline it moved on is in the future.
  if (d <= c.now()) {
    expired = true;
    wake(EPOLLIN | EPOLLERR);
  } else {
    arm_by(d);
  }
}

void stream_timeouts::cancel(bool runtime_alive) noexcept {
  dead = true;
  if (runtime_alive && key) rt->timer_del(key);
  key = {};
}

}  // namespace stakker::loop::detail
