// SPDX-License-Identifier: MIT OR Apache-2.0
// The loop-facing side of a runtime: run the queues, tell the loop how long it may sleep.
#pragma once

#include <optional>

#include "stakker/core.hpp"
#include "stakker/export.hpp"
#include "stakker/time.hpp"

namespace stakker {

// One runtime per thread; it never blocks and owns no loop. A loop (the embedded epoll loop,
// Asio, or a test's virtual clock) calls `run` with the current time, then sleeps at most
// `next_wait_max(...)`. Several runtimes may live in one process; they share nothing.
class STAKKER_EXPORT runtime : public core {
 public:
  explicit runtime(instant start = clock::now());
  // Destroys every queued closure without running it (so queued rets deliver "none" to
  // nobody who can still observe it) and frees every actor no handle outside keeps.
  ~runtime();

  // Runs one batch: with `idle`, first exactly one idle item; then, if `now` is later than
  // the current time, the clock moves to it and every timer due by then is appended to the
  // main queue (in expiry order); then the handlers of wakers that fired run (poll_wake);
  // then the main queue runs to completion, then the lazy
  // queue (the items queued on it so far), repeating until both are empty. Items queued
  // meanwhile run in this same call, in FIFO order. An earlier `now` than the current time
  // is ignored. Returns whether idle items remain.
  // An exception escaping an actor member fails that actor only; one escaping a plain
  // closure (`defer`, `lazy`, `idle`) propagates out of `run` with the queue intact.
  // Calling `run` from inside a run throws std::logic_error.
  bool run(instant now, bool idle);

  // The earliest time a timer may be due, if any timer is pending. (After a deletion this
  // may be the time of the deleted timer: a loop then wakes once for nothing.)
  std::optional<instant> next_expiry() const noexcept;
  // How long the loop may sleep before the next run: zero if work is already queued, empty
  // if nothing is due at all.
  std::optional<duration> next_wait(instant now) const noexcept;
  // Like next_wait, capped at `max`; zero when `pending` (idle items or queued I/O).
  duration next_wait_max(instant now, duration max, bool pending) const noexcept;
  // Whether idle items are waiting (the loop should then poll with zero wait).
  bool has_idle() const noexcept { return !idle_.empty(); }

  // Releases spare queue memory now (also done every 60 s of passed-in time), and the
  // timers' and the cross-thread inboxes' spare blocks beyond the most they used since the
  // previous release.
  void release_memory() noexcept;
  // Bytes held by the main, lazy and idle queues, in use or spare.
  std::size_t queue_capacity() const noexcept;

 private:
  // Appends every timer due by the current time to the main queue, in expiry order.
  void expire_due();

  bool running_ = false;
  instant last_trim_;
};

}  // namespace stakker
