// SPDX-License-Identifier: MIT OR Apache-2.0
// epoll_loop: the embedded Linux loop that drives a runtime in real time (contract L1).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "stakker/fwd.hpp"
#include "stakker/loop/export.hpp"
#include "stakker/loop/unique_fd.hpp"
#include "stakker/runtime.hpp"
#include "stakker/time.hpp"

namespace stakker::loop {

class epoll_loop;

namespace detail {
// Shared (counted, not atomically) by a loop and its sources, so that a source outliving
// its loop (an actor destroyed with the runtime, after the loop) finds it gone.
struct loop_link {
  epoll_loop* loop;
  std::uint32_t refs = 1;
};
inline void release(loop_link* l) noexcept {
  if (--l->refs == 0) delete l;
}
struct wake_fd;  // the eventfd and the "asleep" flag, shared with the poll waker
}  // namespace detail

// A copyable handle that delivers readiness to one source's callback, as if epoll had
// reported it, in the loop's next turn (which then does not sleep). Made by
// fd_source::notifier(); for timers and other deferred work that must reach a source
// which may be gone by then: once the source is reset (or its number taken by another
// source) or its loop destroyed, calling it does nothing. The runtime's thread only.
class STAKKER_LOOP_EXPORT fd_notifier {
 public:
  fd_notifier() noexcept = default;
  fd_notifier(const fd_notifier& o) noexcept : link_(o.link_), id_(o.id_), gen_(o.gen_) {
    if (link_ != nullptr) ++link_->refs;
  }
  fd_notifier(fd_notifier&& o) noexcept : link_(o.link_), id_(o.id_), gen_(o.gen_) {
    o.link_ = nullptr;
  }
  fd_notifier& operator=(fd_notifier o) noexcept {
    std::swap(link_, o.link_);
    id_ = o.id_;
    gen_ = o.gen_;
    return *this;
  }
  ~fd_notifier() {
    if (link_ != nullptr) detail::release(link_);
  }

  // Queues `events` for the source's callback; false if the source or its loop is gone.
  // Throws std::bad_alloc only.
  bool operator()(std::uint32_t events) const;
  // Whether its source is still registered with a live loop.
  bool live() const noexcept;

 private:
  friend class fd_source;
  fd_notifier(detail::loop_link* l, std::uint32_t id, std::uint32_t gen) noexcept
      : link_(l), id_(id), gen_(gen) {
    ++l->refs;
  }
  detail::loop_link* link_ = nullptr;
  std::uint32_t id_ = 0;
  std::uint32_t gen_ = 0;
};

// A registered file descriptor. Destroying it deregisters the descriptor: no readiness is
// delivered for it afterwards, even one already read from the kernel. Move-only. The
// descriptor itself stays open (the caller owns it). A source may outlive its loop
// (destroying it then does nothing).
//
// Closing the descriptor before the source is allowed (the kernel then drops the
// registration, as long as no duplicate of the descriptor stays open). If its number is
// then registered again, by a new source, the old source no longer touches it: resetting
// it leaves the new registration alone, and rearming it throws std::logic_error.
class STAKKER_LOOP_EXPORT fd_source {
 public:
  fd_source() noexcept = default;
  fd_source(fd_source&& o) noexcept;
  fd_source& operator=(fd_source&& o) noexcept;
  fd_source(const fd_source&) = delete;
  fd_source& operator=(const fd_source&) = delete;
  ~fd_source() { reset(); }

  // Changes the events of interest (EPOLLIN, EPOLLOUT, ...; edge-triggered as registered),
  // which also re-arms an edge-triggered source. Throws std::system_error on failure.
  void rearm(std::uint32_t events);
  // Delivers `events` to the callback in the loop's next turn, as if epoll had reported
  // them (that turn does not sleep). For a reader that stopped before the descriptor
  // would block: edge-triggered, no new edge comes for data already waiting. Does nothing
  // on an empty source. Throws std::bad_alloc only.
  void post(std::uint32_t events) const {
    if (*this) fd_notifier(link_, id_, gen_)(events);
  }
  // A handle that posts to this source later (see fd_notifier); empty for an empty source.
  fd_notifier notifier() const noexcept {
    return *this ? fd_notifier(link_, id_, gen_) : fd_notifier();
  }
  // The loop it is registered with, or null (empty, or the loop is gone).
  epoll_loop* loop() const noexcept { return *this ? link_->loop : nullptr; }
  // Deregisters now.
  void reset() noexcept;
  // Whether it is registered with a loop that still exists.
  explicit operator bool() const noexcept { return link_ != nullptr && link_->loop != nullptr; }

 private:
  friend class epoll_loop;
  fd_source(detail::loop_link* l, std::uint32_t id, std::uint32_t gen) noexcept
      : link_(l), id_(id), gen_(gen) {
    ++l->refs;
  }
  detail::loop_link* link_ = nullptr;
  std::uint32_t id_ = 0;
  std::uint32_t gen_ = 0;
};

// Owns the waiting and drives `rt` with real time (`clock::now()`) until the runtime is
// asked to shut down. Each turn it sleeps in epoll at most until the next timer (no
// busy-waiting), with zero wait while idle items or lower-priority readiness are pending:
// in epoll_pwait2 (nanosecond timeout, Linux >= 5.11), or, in a process where that call is
// missing or refused, in epoll_pwait with the timeout rounded up to whole milliseconds
// (never waking before the timer is due, up to 1 ms after; see detail/epoll_wait.hpp);
// delivers file-descriptor readiness as `fwd` calls, highest priority level first (levels
// 0–10; lower levels wait until a turn finds the higher ones quiet); then runs the runtime,
// with its idle flag set only when a zero-wait poll found no activity at all. Cross-thread
// wake-ups (wakers, channels, piped threads) arrive through one eventfd. Registers itself
// in the runtime's anymap as `epoll_loop*`, so actors can reach it. One per runtime; not
// thread-safe (the runtime's thread only).
//
// A second loop for a runtime that has one is refused (std::logic_error). Destroying the
// loop removes what it set on the runtime (its anymap entry and the poll waker), so a new
// loop can be made for the same runtime later; wakers made meanwhile keep working, their
// wake-ups waiting for that loop. Destroying the loop from inside one of its callbacks is
// a misuse (asserted in debug builds).
//
// What a readiness callback may do while it runs (on the runtime thread, inside `turn`):
// - add and reset sources, its own included (a source reset or replaced before its turn in
//   the batch gets nothing; one added meanwhile waits for the next readiness);
// - destroy what owns its source (a stream, an actor): the callback itself stays intact
//   until it returns (the loop holds a copy of the fwd while calling it);
// - throw: the exception propagates out of `turn` (and `run`), the runtime is not run in
//   that turn, and nothing is lost: the rest of the batch and every lower level stay
//   pending, and the next turn delivers them without sleeping;
// - not call `turn` or `run` (std::logic_error: they are not re-entrant).
class STAKKER_LOOP_EXPORT epoll_loop {
 public:
  static constexpr int max_priority = 10;

  // Another event loop sharing this thread (an Asio io_context, through
  // stakker::asio::io_poller). Each turn polls it first (its ready handlers may queue work
  // for the runtime); when the turn would sleep, the guest sleeps instead, in its own wait,
  // on this loop's epoll descriptor as well as its own events, so that either side's
  // readiness ends the sleep.
  struct guest {
    // Runs the guest's ready handlers without blocking; whether any ran.
    virtual bool poll() = 0;
    // Sleeps at most `max` until `epoll_fd` is readable or the guest has work, running the
    // guest's handlers that became ready; whether any ran.
    virtual bool wait(int epoll_fd, duration max) = 0;

   protected:
    ~guest() = default;
  };

  // Throws std::logic_error if `rt` already has an epoll_loop, std::system_error if the
  // kernel refuses a descriptor; then nothing is left behind (no descriptor, nothing set
  // on the runtime).
  explicit epoll_loop(runtime& rt);
  ~epoll_loop();
  epoll_loop(const epoll_loop&) = delete;
  epoll_loop& operator=(const epoll_loop&) = delete;

  runtime& rt() noexcept { return rt_; }

  // Runs turns until the runtime's shutdown is requested. Returns the shutdown cause.
  stop_cause run();
  // One turn, sleeping at most `max_wait`. Returns whether anything happened (readiness,
  // a wake-up, or work run).
  bool turn(duration max_wait);

  // Registers `fd` edge-triggered for `events`; each readiness reaches `ready(events)` on
  // the runtime thread, at priority `priority` (0 lowest, 10 highest). Throws
  // std::system_error if epoll refuses it, std::invalid_argument for a bad priority.
  fd_source add(int fd, std::uint32_t events, int priority, fwd<std::uint32_t> ready);
  // Attaches the guest loop (null detaches it). One at a time; std::logic_error otherwise.
  void set_guest(guest* g);

  // Before it sleeps, the loop spins up to `d` (default zero: never) watching for wakes
  // from other threads (wakers, channels, cross-runtime calls), which then cost no system
  // call on either side and no sleep: lower latency between threads, for the price of a
  // busy CPU while the loop is idle. Readiness of descriptors is not seen while spinning
  // (it waits for the wait that follows), so keep `d` short (tens of microseconds).
  void set_spin(duration d) noexcept;
  duration spin() const noexcept { return spin_; }

  // After a turn that ran wakes from other threads, the next sleep is preceded by a spin of
  // up to `d` (the longer of this and set_spin's): another thread that just sent is likely
  // to send again soon (a request and its reply, a burst), and a wake that comes while the
  // loop still spins costs neither side a system call, nor the receiver a sleep. That is
  // what makes a message sent back to back cost under a microsecond instead of a sleeping
  // CPU's wake-up (tens of microseconds on a virtual machine). Not after a turn that ended
  // with wakes already waiting (a stream, taken in batches with sleeps between them), and
  // never for a loop woken only by its descriptors. Zero: never. Default:
  // `default_wake_spin`.
  void set_wake_spin(duration d) noexcept;
  duration wake_spin() const noexcept { return wake_spin_; }
  static constexpr duration default_wake_spin = std::chrono::microseconds(2);

 private:
  friend class fd_source;
  friend class fd_notifier;
  struct source {
    int fd = -1;  // -1 once another source took the number (the registration went)
    std::uint32_t gen = 1;
    int priority = 0;
    fwd<std::uint32_t> ready;
    bool live = false;
  };
  struct pending {
    std::uint32_t id, gen, events;
  };
  void remove(std::uint32_t id, std::uint32_t gen) noexcept;
  bool post(std::uint32_t id, std::uint32_t gen, std::uint32_t events);
  bool is_live(std::uint32_t id, std::uint32_t gen) const noexcept {
    return id < sources_.size() && sources_[id].live && sources_[id].gen == gen &&
           sources_[id].fd >= 0;
  }
  void modify(std::uint32_t id, std::uint32_t gen, std::uint32_t events);
  bool deliver_highest();
  bool any_pending() const noexcept;
  // Marks the loop asleep unless wakes are pending (after spinning: spin_, or wake_spin if
  // longer and the last turn did not end with wakes waiting); whether to sleep.
  bool ready_to_sleep(duration wake_spin) noexcept;
  runtime& rt_;
  guest* guest_ = nullptr;
  unique_fd epfd_;
  std::shared_ptr<detail::wake_fd> wake_;
  duration spin_{};
  duration wake_spin_ = default_wake_spin;
  detail::loop_link* link_ = nullptr;
  bool woken_ = false;          // the last turn ran wakes from other threads
  bool found_waiting_ = false;  // the last turn's end found wakes already waiting
  bool turning_ = false;        // inside turn(): it is not re-entrant
  bool wake_unpolled_ = false;  // the eventfd was read, but the run that polls was not reached
  std::vector<source> sources_;
  // By descriptor number: 1 + the id of the source whose registration it is, or 0. Lets a
  // stale source (its descriptor closed, the number reused) leave the new one alone. One
  // word per number up to the highest registered.
  std::vector<std::uint32_t> fd_owner_;
  std::vector<std::uint32_t> free_;
  std::array<std::vector<pending>, max_priority + 1> pending_;
  std::vector<pending> spare_;  // the last delivered batch, kept for its capacity
};

}  // namespace stakker::loop
