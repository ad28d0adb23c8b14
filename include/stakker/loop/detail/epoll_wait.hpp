// SPDX-License-Identifier: MIT OR Apache-2.0
// epoll_wait: which system call epoll_loop sleeps in, and the fallback's millisecond timeout.
#pragma once

#include <chrono>
#include <climits>

#include "stakker/loop/export.hpp"
#include "stakker/time.hpp"

namespace stakker::loop::detail {

// The timeout epoll_pwait takes, in whole milliseconds, for a wait of `d`: rounded up to
// the next millisecond, so that the wait never ends before `d` has passed (a timer due at
// its end is then due when the loop runs the runtime: the cost is up to 1 ms of lateness,
// never an early wake-up); clamped to INT_MAX ms (about 24.8 days: the loop then sleeps
// again); zero, or less, stays 0 (a poll), never -1 (which would sleep without end).
constexpr int epoll_timeout_ms(duration d) noexcept {
  if (d <= duration::zero()) return 0;
  if (d >= std::chrono::milliseconds(INT_MAX)) return INT_MAX;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

// Whether the epoll loops of this process sleep in epoll_pwait (millisecond timeouts,
// rounded up) rather than epoll_pwait2 (nanosecond timeouts, Linux >= 5.11). Decided once
// per process: the first epoll_pwait2 that fails with ENOSYS (an older kernel, valgrind
// 3.19) or EPERM (a seccomp filter) switches every loop, for good. Any thread.
STAKKER_LOOP_EXPORT bool uses_epoll_pwait() noexcept;

// For tests only: makes every epoll loop of the process sleep in epoll_pwait from its next
// turn on (true), or try epoll_pwait2 again (false; it falls back again if still refused).
// Any thread.
STAKKER_LOOP_EXPORT void force_epoll_pwait(bool on) noexcept;

}  // namespace stakker::loop::detail
