// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/runtime.hpp"

#include "stakker/detail/observer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <utility>

namespace stakker {

namespace detail {
void misuse(const char* what, const char* file, int line) noexcept {
  std::fprintf(stderr, "stakker: misuse: %s (%s:%d)\n", what, file, line);
  std::fflush(stderr);
  std::abort();
}

namespace {
void report_lost(const std::exception_ptr& e) noexcept {
  std::fprintf(stderr, "stakker: an exception escaped a callback outside any run: ");
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "%s\n", x.what());
  } catch (...) {
    std::fprintf(stderr, "(not a std::exception)\n");
  }
  std::fflush(stderr);
}

// Rethrows from the queue; destroyed unrun (the runtime went first), it reports instead.
struct rethrow_closure {
  std::exception_ptr e;
  explicit rethrow_closure(std::exception_ptr x) noexcept : e(std::move(x)) {}
  rethrow_closure(rethrow_closure&& o) noexcept : e(std::exchange(o.e, nullptr)) {}
  ~rethrow_closure() {
    if (e) report_lost(e);
  }
  void operator()(core&) { std::rethrow_exception(std::exchange(e, nullptr)); }
};
}  // namespace

void callback_threw(std::exception_ptr e) noexcept {
  if (core* c = running_core) {
    try {
      c->defer(rethrow_closure(e));
    } catch (...) {  // no memory for the closure: the unqueued one has reported it
    }
    return;
  }
  report_lost(e);
}
}  // namespace detail

namespace {
// Spare chunks kept per queue after a trim; every 60 s of passed-in time the rest go.
constexpr std::size_t spare_chunks_kept = 2;
constexpr auto trim_interval = std::chrono::seconds(60);
}  // namespace

core::core(instant start)
    : now_(start),
      start_(start),
      link_(new detail::runtime_link(this)),
      id_(detail::new_runtime_id()) {}

core::~core() {
  // The extension first (the coroutine bridge destroys its tasks, whose locals may use
  // anything below). It stays installed while it is destroyed: a task spawned meanwhile (a
  // spawn's ret answering "none" may spawn another) joins it and is destroyed in turn.
  auto destroy_extension = [this] {
    if (extension_ == nullptr) return;
    delete extension_;
    extension_ = nullptr;
  };
  destroy_extension();
  // Environment handles first: they may own actors whose termination queues more work.
  auto destroy_anymap = [this] {
    while (!anymap_.empty()) {
      anymap_entry e = anymap_.back();
      anymap_.pop_back();
      e.destroy(e.value);
    }
  };
  destroy_anymap();
  // Wakers' handlers and timer closures next, then the queues.
  destroy_wakers();
  timers_.clear();
  // Destroying a closure (or an actor's state, or a task) may queue others (a dropped
  // actor_own queues its termination, a ret delivers "none" to an actor), spawn a task,
  // which makes a new extension, set a timer or an anymap value; keep destroying until
  // nothing is left.
  for (int round = 0; round < 1000; ++round) {
    if (extension_ == nullptr && anymap_.empty() && timers_.size() == 0 && main_.empty() &&
        lazy_.empty() && idle_.empty())
      break;
    destroy_extension();
    destroy_anymap();
    timers_.clear();
    main_.destroy_all();
    lazy_.destroy_all();
    idle_.destroy_all();
  }
  link_->rt = nullptr;
  link_->release();
  delete observer_;  // last: destructors above may still log (an actor's stop)
}

void core::throw_anymap_missing() {
  throw std::out_of_range("stakker::core::anymap_get: no value of that type is set");
}

runtime::runtime(instant start) : core(start), last_trim_(start) {}

runtime::~runtime() { STAKKER_ASSERT(!running_, "runtime destroyed from inside its own run"); }

bool runtime::run(instant now, bool idle) {
  if (running_) throw std::logic_error("stakker::runtime::run called from inside run");
  running_ = true;
  struct reset_running {
    bool& r;
    core* outer;
    ~reset_running() {
      r = false;
      detail::running_core = outer;
    }
  } guard{running_, detail::running_core};
  detail::running_core = this;

  if (idle) idle_.run_one(*this);
  if (now > now_) {
    now_ = now;
    // With no timer entry (a program driven by its I/O, say) expire has nothing to look at:
    // this test saves its call on every run. (Stale entries of deleted timers still go
    // through it, so that the store's position moves on past them.)
    if (!timers_.empty()) expire_due();
    if (saturating_sub(now_, last_trim_) >= trim_interval) release_memory();
  }
  if (uses_wakers()) poll_wake_at_run_start();
  for (;;) {
    main_.run_all(*this);
    if (lazy_.empty()) break;
    lazy_.run_until(*this, lazy_.mark());
  }
  main_.rewind();
  lazy_.rewind();
  idle_.rewind();
  return !idle_.empty();
}

void runtime::expire_due() {
#if STAKKER_OBSERVE_HOOKS
  if (detail::core_access::observing(*this)) [[unlikely]] {
    const std::size_t before = timers_.size();
    timers_.expire(now_tick(), main_);
    if (before != timers_.size()) detail::observed_timers_due(*this, before - timers_.size());
    return;
  }
#endif
  timers_.expire(now_tick(), main_);  // after what is queued already, in expiry order
}

std::optional<instant> runtime::next_expiry() const noexcept {
  detail::tick t;
  if (!timers_.next(t)) return std::nullopt;
  return from_tick(t);
}

std::optional<duration> runtime::next_wait(instant now) const noexcept {
  if (!main_.empty() || !lazy_.empty()) return duration::zero();
  if (auto e = next_expiry()) return std::max(duration::zero(), saturating_sub(*e, now));
  return std::nullopt;
}

duration runtime::next_wait_max(instant now, duration max, bool pending) const noexcept {
  if (pending) return duration::zero();
  if (auto w = next_wait(now)) return std::min(*w, max);
  return max;
}

void runtime::release_memory() noexcept {
  last_trim_ = now_;
  main_.trim(spare_chunks_kept);
  lazy_.trim(spare_chunks_kept);
  idle_.trim(spare_chunks_kept);
  timers_.trim();
  for (const auto& [who, trim] : trimmers_) trim(who);
}

std::size_t runtime::queue_capacity() const noexcept {
  return main_.capacity_bytes() + lazy_.capacity_bytes() + idle_.capacity_bytes();
}

}  // namespace stakker
