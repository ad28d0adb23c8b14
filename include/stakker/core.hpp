// SPDX-License-Identifier: MIT OR Apache-2.0
// The actor-facing side of a runtime: time, the three queues, shutdown and the anymap.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "stakker/detail/actor_block.hpp"
#include "stakker/detail/config.hpp"
#include "stakker/detail/flat_queue.hpp"
#include "stakker/detail/runtime_link.hpp"
#include "stakker/detail/timer_store.hpp"
#include "stakker/export.hpp"
#include "stakker/log.hpp"
#include "stakker/metrics.hpp"
#include "stakker/stop_cause.hpp"
#include "stakker/time.hpp"
#include "stakker/timer_key.hpp"
#include "stakker/trace.hpp"

namespace stakker {

class deferrer;
class waker;
namespace detail {
struct core_access;
struct waker_table;
struct actor_block;
struct observer;

// Bits of core::observe_: what the hooks on the paths of calls, timers and tasks record.
inline constexpr std::uint8_t observe_trace = 1, observe_metrics = 2, observe_audit_calls = 4;

// A library part that lives as long as a runtime and needs to hear about its actors (the
// coroutine bridge: tasks owned by actors). Destroyed first when the runtime goes.
struct STAKKER_EXPORT core_extension {
  virtual ~core_extension() = default;
  // An actor marked with actor_block::set_has_tasks is stopping; its state still exists. The
  // extension may have parked its own ret in the actor's `notify` slot while the mark is set
  // (the actor's notify inside it): it puts the actor's back here, before the core reads it,
  // and clears the mark. It must also do so for every marked actor when it is destroyed.
  virtual void actor_stopping(core& c, actor_block* b) noexcept = 0;
  // The actor whose task is running now (a task tied to it by a spawn from its cx), or null:
  // log records written from inside a task carry that actor's id.
  virtual actor_block* running_actor() const noexcept { return nullptr; }
};
}  // namespace detail

// What actors see of their runtime (through `cx<A>`, which converts to `core&`). Owned by a
// `runtime`; belongs to one thread. Nothing here blocks, locks or uses an atomic.
class STAKKER_EXPORT core {
 public:
  core(const core&) = delete;
  core& operator=(const core&) = delete;

  // The time of the current run, as passed in by the loop. Never goes backwards.
  instant now() const noexcept { return now_; }

  // Queues `f(core&)` at the end of the main queue; it runs in this or the next `run`, after
  // everything queued before it. No allocation once warm for closures up to 1 KiB.
  template <class F>
  void defer(F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, core&>,
                  "stakker::core::defer: the closure must be callable as f(core&)");
    main_.push(std::forward<F>(f));
  }

  // Queues `f(core&)` on the lazy queue, which runs only when the main queue is empty
  // (for flushing batches).
  template <class F>
  void lazy(F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, core&>,
                  "stakker::core::lazy: the closure must be callable as f(core&)");
    lazy_.push(std::forward<F>(f));
  }

  // Queues `f(core&)` on the idle queue: one item runs per `run(now, true)`, which the loop
  // calls only when it found no other work (backpressure).
  template <class F>
  void idle(F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, core&>,
                  "stakker::core::idle: the closure must be callable as f(core&)");
    idle_.push(std::forward<F>(f));
  }

  // Asks the loop to stop. The first cause given is kept.
  void shutdown(stop_cause cause) {
    if (!shutdown_) shutdown_.emplace(std::move(cause));
  }
  bool is_shutdown() const noexcept { return shutdown_.has_value(); }
  const std::optional<stop_cause>& shutdown_cause() const noexcept { return shutdown_; }
  // Returns the cause and clears the request (a loop that restarts after handling it).
  std::optional<stop_cause> take_shutdown_cause() noexcept { return std::exchange(shutdown_, {}); }

  // --- Timers (contract R3). A timer's closure `f(core&)` is moved onto the main queue
  // when the loop passes a time at or after its expiry, after everything already queued;
  // timers due in the same run go in expiry order (ties: the order they were set; a max
  // timer moved later keeps its place, a min timer moved earlier counts as set then). A timer
  // never fires early, and one set for now or the past fires on the next run with a later
  // time. Closures up to 40 bytes are stored without allocation once warm.

  // A fixed timer `d` from now(). The sum saturates: `duration::max()` gives a timer due at
  // instant::max(), which stays pending until deleted (no loop passes that time in).
  template <class F>
  timer_key after(duration d, F&& f) {
    return at(saturating_add(now_, d), std::forward<F>(f));
  }
  // A fixed timer at `t`.
  template <class F>
  timer_key at(instant t, F&& f) {
    return add_timer<timer_key>(detail::timer_kind::fixed, t, std::forward<F>(f));
  }
  // Deletes a fixed timer, destroying its closure now. False if it already fired, was
  // deleted, or the key is stale.
  bool timer_del(timer_key k) noexcept { return del_timer(detail::timer_kind::fixed, k); }
  bool timer_active(timer_key k) const noexcept { return active(detail::timer_kind::fixed, k); }

  // A max timer: fires at the latest expiry ever given to it. Moving it later is O(1) (the
  // stored target changes; the timer re-arms when its earlier expiry is reached), so it
  // suits "300 ms after the last keypress". Moving it earlier is ignored.
  template <class F>
  max_timer_key timer_max_add(instant expiry, F&& f) {
    return add_timer<max_timer_key>(detail::timer_kind::max, expiry, std::forward<F>(f));
  }
  // Pushes the expiry to `expiry` if that is later; false (and no effect) for a stale key.
  bool timer_max_upd(max_timer_key k, instant expiry) {
    return upd_timer(detail::timer_kind::max, k, expiry);
  }
  bool timer_max_del(max_timer_key k) noexcept { return del_timer(detail::timer_kind::max, k); }
  bool timer_max_active(max_timer_key k) const noexcept {
    return active(detail::timer_kind::max, k);
  }

  // A min timer: fires at the earliest expiry given to it. Moving it earlier re-inserts it;
  // moving it later is ignored.
  template <class F>
  min_timer_key timer_min_add(instant expiry, F&& f) {
    return add_timer<min_timer_key>(detail::timer_kind::min, expiry, std::forward<F>(f));
  }
  // Brings the expiry to `expiry` if that is earlier; false (and no effect) for a stale key.
  bool timer_min_upd(min_timer_key k, instant expiry) {
    return upd_timer(detail::timer_kind::min, k, expiry);
  }
  bool timer_min_del(min_timer_key k) noexcept { return del_timer(detail::timer_kind::min, k); }
  bool timer_min_active(min_timer_key k) const noexcept {
    return active(detail::timer_kind::min, k);
  }

  // The number of pending timers.
  std::size_t timer_count() const noexcept { return timers_.size(); }

  // --- Cross-thread wake-ups (contract X1; include <stakker/sync/waker.hpp>) ---

  // Installed by the loop before any waker is made: called from any thread when a waker
  // fires and the runtime has nothing pending yet (e.g. a write to the loop's eventfd). It
  // must be thread-safe, must not block, and must not wake a waker. A later call replaces
  // it (a new loop for this runtime, after the old one cleared it): once this returns the
  // previous one is neither running nor called again, and if wake-ups are already waiting
  // the new one is called at once. Runtime thread only.
  void set_poll_waker(std::function<void()> wake_loop);
  // Removes the poll waker (a loop going away). Existing wakers keep their handlers; their
  // wakes wait, uncalled, for the next run; making a new waker throws until a poll waker
  // is set again. Runtime thread only.
  void clear_poll_waker() noexcept;
  // A waker whose `wake()` (any thread) leads to `handler(core, false)` on this thread at
  // the start of a later run, and whose destruction leads to one `handler(core, true)`.
  // Throws std::logic_error if no poll waker is set. What a handler may do (make or destroy
  // wakers, throw) is stated with `stakker::waker`.
  stakker::waker waker(std::function<void(core&, bool)> handler);
  // Runs the handlers of wakers that fired or were destroyed since the last call. `run`
  // calls it; a loop may call it directly after its poll waker fired. Returns whether any
  // handler ran. A handler's exception propagates; the wake-ups and "deleted" calls not yet
  // delivered are kept and the poll waker is called, so that a later call delivers them.
  // Throws std::logic_error when called from inside a handler (it is not re-entrant).
  bool poll_wake();
  // Whether any waker (or poll waker) was ever set up; `run` polls wakers only then.
  bool uses_wakers() const noexcept { return wakers_ != nullptr; }
  // Whether a run would have waker handlers to call (wakes or "deleted" calls waiting).
  // For a loop about to sleep that skips its poll waker's signal while awake: it stores
  // its "asleep" flag (seq_cst), then asks this (seq_cst loads); a waker's wake sets its
  // bits (seq_cst) before it calls the poll waker, which then takes that flag (seq_cst).
  // Runtime thread.
  bool wakes_pending() const noexcept;

  // --- Observability (contract O1–O4). Everything here is off until asked for; off, the
  // paths of calls, timers and tasks pay one predicted branch on a byte of this object.

  // This runtime's id: unique in the process, from 1, in order of construction.
  std::uint32_t id() const noexcept { return id_; }

  // Sets the one logger that receives this runtime's records at `level` or above (an empty
  // logger switches logging off). Audit records of actors starting and stopping are written
  // at `info` (a failed or killed actor's at `warn`). Runtime thread only.
  void set_logger(logger l, log_level level = log_level::info);
  // Changes the level; ignored (stays `off`) while no logger is set.
  void set_log_level(log_level level) noexcept;
  log_level get_log_level() const noexcept { return log_level_; }
  // Whether a record at `l` would reach the logger (the STAKKER_LOG macros test this before
  // evaluating their arguments).
  bool log_enabled(log_level l) const noexcept { return l >= log_level_; }
  // With `on`, every actor call delivered writes an audit record ("call", level trace, the
  // member's name where known). Costs a record per call: for debugging only.
  void set_audit_calls(bool on) noexcept;
  // Writes a record now, if `l` is enabled, attributed to the running actor: the one whose
  // call is running, or the one a running task is tied to (none from a plain closure).
  void log(log_level l, std::string_view message, std::span<const log_field> fields = {});
  void log(log_level l, std::string_view message, std::initializer_list<log_field> fields) {
    log(l, message, std::span<const log_field>(fields.begin(), fields.size()));
  }

  // Starts recording trace events into a ring of `capacity` events (rounded up to a power
  // of two, at least 16; allocated here, once), discarding any earlier trace. When full,
  // the oldest events are overwritten. Runtime thread only.
  void trace_start(std::size_t capacity = std::size_t{1} << 16);
  // Stops recording; the events stay readable until the next trace_start.
  void trace_stop() noexcept;
  bool tracing() const noexcept { return (observe_ & detail::observe_trace) != 0; }
  // The events recorded and not yet overwritten, oldest first, with times in nanoseconds
  // since trace_start.
  trace_snapshot trace_read() const;

  // Starts (or stops) counting calls, queue depth, wake-ups and per-type actor counts.
  // Actors created, alive and failed are counted always. Runtime thread only.
  void metrics_enable(bool on = true);
  bool metrics_enabled() const noexcept { return (observe_ & detail::observe_metrics) != 0; }
  runtime_metrics metrics() const;

  // A handle that can queue work onto this runtime from places without a core, such as
  // destructors. Safe to keep after the runtime is gone (work is then destroyed unrun).
  stakker::deferrer get_deferrer() noexcept;

  // The anymap: one value per type, for environment handles (the loop, a logger).
  // A second set replaces the value in place (same address). The old value is moved out
  // and destroyed once the new one is in place, so its destructor may use the anymap (even
  // unset its own type).
  template <class T>
  void anymap_set(T value) {
    using V = std::decay_t<T>;
    if (V* p = anymap_try_get<V>()) {
      [[maybe_unused]] V old(std::move(*p));
      *p = std::move(value);
      return;  // `old` goes here, with the anymap consistent
    }
    anymap_.push_back(anymap_entry{&type_key<V>, new V(std::move(value)),
                                   [](void* p) noexcept { delete static_cast<V*>(p); }});
  }
  template <class T>
  T* anymap_try_get() noexcept {
    for (auto& e : anymap_)
      if (e.key == &type_key<T>) return static_cast<T*>(e.value);
    return nullptr;
  }
  // Throws std::out_of_range if no value of type T is set.
  template <class T>
  T& anymap_get() {
    if (T* p = anymap_try_get<T>()) return *p;
    throw_anymap_missing();
  }
  // Removes the value of type T; returns whether there was one.
  template <class T>
  bool anymap_unset() noexcept {
    for (auto& e : anymap_) {
      if (e.key == &type_key<T>) {
        anymap_entry victim = e;
        e = anymap_.back();
        anymap_.pop_back();
        victim.destroy(victim.value);
        return true;
      }
    }
    return false;
  }

 protected:
  // poll_wake, from runtime::run at the start of a run.
  bool poll_wake_at_run_start();
  explicit core(instant start);
  ~core();

  // Store time: nanoseconds since the runtime started, at least one after now() (so a
  // timer for now or the past waits for the next run with a later time).
  // Saturating: instant::min() is "now" and instant::max() the last representable tick,
  // which is after every time a loop can pass in (so such a timer never fires).
  detail::tick to_tick(instant t) const noexcept {
    static_assert(std::is_same_v<duration::period, std::nano>, "ticks are nanoseconds");
    auto ns = saturating_sub(t, start_).count();
    auto earliest = now_tick() + 1;
    return ns < 0 || static_cast<detail::tick>(ns) < earliest ? earliest
                                                              : static_cast<detail::tick>(ns);
  }
  detail::tick now_tick() const noexcept {
    return static_cast<detail::tick>(saturating_sub(now_, start_).count());
  }
  instant from_tick(detail::tick t) const noexcept {
    if (t > static_cast<detail::tick>(duration::max().count())) return instant::max();
    return saturating_add(start_, duration(static_cast<duration::rep>(t)));
  }

  detail::flat_queue main_;
  detail::flat_queue lazy_;
  detail::flat_queue idle_;
  instant now_;
  instant start_;
  detail::timer_store timers_;
  // Called by runtime::release_memory with their first member (parts that keep spare memory
  // of their own: an inbox's block pool). Added and removed on the runtime thread.
  std::vector<std::pair<void*, void (*)(void*) noexcept>> trimmers_;

 private:
  // poll_wake once its first look found wake-ups or "deleted" calls waiting; `at_run_start`:
  // called by runtime::run before it runs the main queue (see deliver_in_place_).
  [[gnu::noinline]] bool poll_wake_found(bool at_run_start);
  bool poll_wake_from(bool at_run_start);
  friend struct detail::core_access;

  template <class Key, class F>
  Key add_timer(detail::timer_kind kind, instant t, F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, core&>,
                  "stakker: a timer's closure must be callable as f(core&)");
    auto [slot, gen] = timers_.add(kind, to_tick(t), std::forward<F>(f));
#if STAKKER_OBSERVE_HOOKS
    if (observe_ & detail::observe_trace) [[unlikely]]
      trace_timer_set(slot, t);
#endif
    return detail::timer_key_access::make<typename key_tag<Key>::type>(slot, gen);
  }
  template <class Key>
  bool del_timer(detail::timer_kind kind, Key k) noexcept {
    return timers_.remove(detail::timer_key_access::slot(k), detail::timer_key_access::gen(k),
                          kind);
  }
  template <class Key>
  bool upd_timer(detail::timer_kind kind, Key k, instant t) {
    return timers_.update(detail::timer_key_access::slot(k), detail::timer_key_access::gen(k), kind,
                          to_tick(t));
  }
  template <class Key>
  bool active(detail::timer_kind kind, Key k) const noexcept {
    return timers_.active(detail::timer_key_access::slot(k), detail::timer_key_access::gen(k),
                          kind);
  }
  template <class Key>
  struct key_tag;
  template <class Tag>
  struct key_tag<basic_timer_key<Tag>> {
    using type = Tag;
  };

  struct anymap_entry {
    const void* key;
    void* value;
    void (*destroy)(void*) noexcept;
  };
  template <class T>
  static constexpr char type_key = 0;
  [[noreturn]] static void throw_anymap_missing();

  void destroy_wakers() noexcept;
  void trace_timer_set(std::uint32_t slot, instant t) noexcept;
  detail::observer& make_observer();

  detail::runtime_link* link_;
  detail::core_extension* extension_ = nullptr;  // owned; made by the coroutine bridge
  detail::waker_table* wakers_ = nullptr;        // made with the first waker (or poll waker)
  detail::actor_block* current_ = nullptr;       // the actor whose call is running
  detail::observer* observer_ = nullptr;         // made when logging, tracing or metrics start
  // detail::observe_* bits. Not a character type, which may alias any store: the observer's
  // test before an actor call then serves the tests of the calls it queues.
  std::uint16_t observe_ = 0;
  log_level log_level_ = log_level::off;
  std::uint32_t id_;
  std::uint64_t actors_created_ = 0;  // also the last actor id given
  std::uint64_t actors_stopped_ = 0;
  std::uint64_t actors_failed_ = 0;
  // Actor calls counted while metrics are on (inline: no call per count).
  struct call_counts {
    std::uint64_t queued = 0, run = 0, dropped = 0, depth_max = 0;
  } calls_;
  bool stop_pending_ = false;  // a cause was recorded during that call
  // True while the last waker handler of the poll at the start of `run` runs, with the main
  // queue empty and nothing observing (see core_access::deliver_in_place).
  bool deliver_in_place_ = false;
  int borrows_ = 0;  // live share borrows (debug checks)
  std::optional<stop_cause> pending_cause_;
  std::optional<stop_cause> shutdown_;
  std::vector<anymap_entry> anymap_;
};

namespace detail {

// The runtime whose `run` is executing on this thread (null outside a run). Lets a call
// from inside a run find its queue without chasing the target actor's link: the check that
// the target belongs to this runtime is off the data path (a predicted branch). Per thread,
// so runtimes on different threads share nothing.
STAKKER_EXPORT inline thread_local core* running_core = nullptr;

// Library-internal access to a core's actor bookkeeping.
struct core_access {
  static runtime_link* link(core& c) noexcept { return c.link_; }
  static core_extension*& extension(core& c) noexcept { return c.extension_; }
  static void add_trimmer(core& c, void* who, void (*trim)(void*) noexcept) {
    c.trimmers_.emplace_back(who, trim);
  }
  static void remove_trimmer(core& c, void* who) noexcept {
    std::erase_if(c.trimmers_, [who](const auto& t) { return t.first == who; });
  }
  static actor_block*& current(core& c) noexcept { return c.current_; }
  // Whether a channel may run its receiver's actor call in place instead of queueing it
  // (fwd<T>::vtable::now): true only while the last waker handler of the poll at the start
  // of `run` runs, with the main queue empty and nothing observing. Queued then, the calls
  // would be the first in the queue and run one after another, each one's own calls queued
  // behind them all: run in place they run in that same order, and what they queue is
  // behind them too. (An earlier handler, an expired timer or a call queued between runs
  // would go first: then nothing runs in place.)
  static bool deliver_in_place(const core& c) noexcept { return c.deliver_in_place_; }
  static bool stop_pending(const core& c) noexcept { return c.stop_pending_; }
  static void record(core& c, stop_cause cause) noexcept {
    if (!c.stop_pending_) {
      c.stop_pending_ = true;
      c.pending_cause_.emplace(std::move(cause));
    }
  }
  static stop_cause take_pending(core& c) noexcept {
    c.stop_pending_ = false;
    stop_cause s = std::move(*c.pending_cause_);
    c.pending_cause_.reset();
    return s;
  }
  static int& borrows(core& c) noexcept { return c.borrows_; }
  // Builds closure F on the main queue; returns its address (a trace's flow key).
  template <class F, class... A>
  static void* emplace(core& c, A&&... a) {
    return c.main_.emplace<F>(std::forward<A>(a)...);
  }
  // The same in two steps (see flat_queue::fits).
  template <class F>
  static bool fits(const core& c) noexcept {
    return c.main_.fits<F>();
  }
  template <class F, class... A>
  static void* emplace_fitting(core& c, A&&... a) {
    return c.main_.emplace_fitting<F>(std::forward<A>(a)...);
  }
  static std::uint64_t next_actor_id(core& c) noexcept { return ++c.actors_created_; }
  // Whether any of the hooks on the paths of calls, timers and tasks must record.
  static bool observing(const core& c) noexcept { return c.observe_ != 0; }
  static std::uint8_t observe_bits(const core& c) noexcept {
    return static_cast<std::uint8_t>(c.observe_);
  }
  static observer* get_observer(core& c) noexcept { return c.observer_; }
  static bool audit_lifecycle(const core& c) noexcept { return c.log_level_ <= log_level::warn; }
  // Metrics on actor calls, counted inline (the queue depth is queued - run - dropped; a call
  // queued before metrics were on and run after makes it lower, never negative).
  static bool metrics_only(const core& c) noexcept { return c.observe_ == observe_metrics; }
  static void count_queued(core& c) noexcept {
    auto& k = c.calls_;
    ++k.queued;
    const std::uint64_t done = k.run + k.dropped;
    if (k.queued > done && k.queued - done > k.depth_max) k.depth_max = k.queued - done;
  }
  static void count_run(core& c) noexcept { ++c.calls_.run; }
  static void count_dropped(core& c, std::uint64_t n) noexcept { c.calls_.dropped += n; }
  // Counts a stop (always); the observer hears of it when one exists.
  static void count_stop(core& c, bool failed) noexcept {
    ++c.actors_stopped_;
    if (failed) ++c.actors_failed_;
  }
};

}  // namespace detail
}  // namespace stakker
