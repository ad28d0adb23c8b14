// SPDX-License-Identifier: MIT OR Apache-2.0
// The runtime's side of observability: log records and audits, the trace ring, the metrics
// counters, and the hooks the paths of calls, timers, tasks and wake-ups call when on.
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "stakker/actor.hpp"
#include "stakker/core.hpp"
#include "stakker/detail/actor_call.hpp"
#include "stakker/detail/observer.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace stakker {

std::string_view to_string(log_level l) noexcept {
  switch (l) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
    case log_level::off:
      return "off";
  }
  return "?";
}

namespace detail {

namespace {

using steady = std::chrono::steady_clock;

// The trace's clock: the TSC where there is one (about 8 ns a read here, against 17 for
// steady_clock), converted to nanoseconds when the trace is read, against steady_clock
// readings taken at the first trace_start of the process and at the read.
std::uint64_t ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(steady::now().time_since_epoch().count());
#endif
}

struct clock_anchor {
  std::uint64_t ticks;
  steady::time_point time;
};
const clock_anchor& process_anchor() {
  static const clock_anchor a{ticks(), steady::now()};
  return a;
}
// Nanoseconds per tick, from the anchor to now. The span is at least 2 ms (a read that
// comes sooner waits for it), which puts the error below one part in 10^4.
double ns_per_tick() {
  const clock_anchor& a = process_anchor();
  for (;;) {
    const steady::time_point t = steady::now();
    const std::uint64_t k = ticks();
    const auto ns = std::chrono::duration<double, std::nano>(t - a.time).count();
    if (ns >= 2e6 && k > a.ticks) return ns / static_cast<double>(k - a.ticks);
  }
}

void report_logger_exception() noexcept {
  std::fprintf(stderr, "stakker: a logger threw; the record was dropped: ");
  try {
    throw;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "(not a std::exception)\n");
  }
}

std::atomic<std::uint32_t> next_runtime_id{0};

}  // namespace

std::uint32_t new_runtime_id() noexcept {
  return next_runtime_id.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::uint64_t observer::now_ticks() noexcept { return ticks(); }

void observer::record(const trace_event& e) noexcept {
  ring[static_cast<std::size_t>(recorded) & mask] = e;
  ++recorded;
}

actor_type_metrics& observer::type_counts(const char* type) {
  std::string_view t(type);
  for (auto& m : types)
    if (m.type == t) return m;
  types.push_back(actor_type_metrics{t, 0, 0, 0});
  return types.back();
}

void observer::emit(core& c, log_level l, log_kind kind, actor_block* a, std::string_view message,
                    std::span<const log_field> fields) noexcept {
  if (!log || in_log) return;
  log_record r{c.now(),
               l,
               kind,
               c.id(),
               a != nullptr ? a->id : 0,
               a != nullptr ? std::string_view(a->type_name()) : std::string_view(),
               message,
               fields};
  in_log = true;
  try {
    log(r);
  } catch (...) {
    report_logger_exception();
  }
  in_log = false;
  if (log_replaced) {
    log_replaced = false;
    log = std::move(next_log);
    next_log = nullptr;
  }
}

std::uint64_t observed_call_begin(core& c, actor_block* b, const char* name) noexcept {
  observer& o = *core_access::get_observer(c);
  const std::uint8_t bits = core_access::observe_bits(c);
  if (bits & observe_metrics) core_access::count_run(c);
  if ((bits & observe_audit_calls) && c.log_enabled(log_level::trace)) {
    const log_field f[] = {{"member", name != nullptr ? std::string_view(name) : "?", true}};
    o.emit(c, log_level::trace, log_kind::audit, b, "call", f);
  }
  if (!(bits & observe_trace)) return 0;
  const std::uint64_t start = observer::now_ticks();
  return start != 0 ? start : 1;  // 0 says "not traced"
}

void observed_call_end(core& c, actor_block* b, const void* key, const char* name,
                       std::uint64_t start) noexcept {
  trace_event e;
  e.kind = trace_kind::call;
  e.actor = b->id;
  e.key = reinterpret_cast<std::uintptr_t>(key);
  e.name = name;
  e.type = b->type_name();
  e.start = start;
  e.duration = observer::now_ticks() - start;
  core_access::get_observer(c)->record(e);
}

void observed_enqueue(core& c, actor_block* target, const void* key) noexcept {
  observer& o = *core_access::get_observer(c);
  const std::uint8_t bits = core_access::observe_bits(c);
  if (bits & observe_metrics) core_access::count_queued(c);
  if (bits & observe_trace) {
    trace_event e;
    e.kind = trace_kind::enqueue;
    e.start = observer::now_ticks();
    e.actor = target->id;
    actor_block* from = core_access::current(c);
    e.from = from != nullptr ? from->id : 0;
    e.key = reinterpret_cast<std::uintptr_t>(key);
    e.type = target->type_name();
    o.record(e);
  }
}

void observed_dropped(core& c, std::size_t n) noexcept {
  if (core_access::observe_bits(c) & observe_metrics) core_access::count_dropped(c, n);
}

void observed_created(core& c, actor_block* b) noexcept {
  try {
    ++core_access::get_observer(c)->type_counts(b->type_name()).created;
  } catch (...) {  // no memory for a new type's counters: the count is lost, nothing else
  }
}

void audit_started(core& c, actor_block* b) noexcept {
  observer* o = core_access::get_observer(c);
  if (o != nullptr && c.log_enabled(log_level::info))
    o->emit(c, log_level::info, log_kind::audit, b, "started", {});
}

void observed_stop(core& c, actor_block* b, const stop_cause& cause) noexcept {
  observer* o = core_access::get_observer(c);
  if (o == nullptr) return;
  const bool failed = cause == stop_kind::failed;
  if (core_access::observe_bits(c) & observe_metrics) {
    try {
      actor_type_metrics& m = o->type_counts(b->type_name());
      ++m.stopped;
      if (failed) ++m.failed;
    } catch (...) {
    }
  }
  if (!core_access::audit_lifecycle(c)) return;
  const log_level l = cause.has_error() ? log_level::warn : log_level::info;
  if (!c.log_enabled(l)) return;
  static constexpr std::string_view kinds[] = {"stopped", "failed", "killed", "dropped", "lost"};
  std::string message;
  try {
    message = cause.message();
  } catch (...) {
  }
  log_field f[] = {{"cause", kinds[static_cast<int>(cause.kind())], true},
                   {"error", message, true}};
  o->emit(c, l, log_kind::audit, b, "stopped",
          std::span<const log_field>(f, cause.has_error() ? 2 : 1));
}

namespace {
// An instant event of `kind` carrying `n` (trace on), and `n` added to `metric` (metrics on;
// null: no metric).
void record_count(core& c, trace_kind kind, std::size_t n, std::uint64_t observer::*metric) {
  observer& o = *core_access::get_observer(c);
  const std::uint8_t bits = core_access::observe_bits(c);
  if (metric != nullptr && (bits & observe_metrics)) o.*metric += n;
  if (bits & observe_trace) {
    trace_event e;
    e.kind = kind;
    e.start = observer::now_ticks();
    e.count = n;
    o.record(e);
  }
}
}  // namespace

void observed_timers_due(core& c, std::size_t n) noexcept {
  record_count(c, trace_kind::timer_fire, n, nullptr);
}

void observed_wakes(core& c, std::size_t handlers) noexcept {
  record_count(c, trace_kind::wake, handlers, &observer::wakes);
}

void observed_inbox(core& c, std::size_t items) noexcept {
  record_count(c, trace_kind::inbox, items, &observer::cross_thread_items);
}

void observed_task(core& c, std::uint64_t actor, const char* type, const void* chain,
                   std::uint64_t start) noexcept {
  observer& o = *core_access::get_observer(c);
  if (!(core_access::observe_bits(c) & observe_trace)) return;
  trace_event e;
  e.kind = trace_kind::task;
  e.start = start;
  e.duration = observer::now_ticks() - start;
  e.actor = actor;
  e.type = type;
  e.key = reinterpret_cast<std::uintptr_t>(chain);
  e.name = "task";
  o.record(e);
}

void loop_wait_begin(core& c) noexcept {
  if (!core_access::observing(c)) return;
  observer& o = *core_access::get_observer(c);
  const std::uint64_t now = observer::now_ticks();
  if (o.wait_end != 0) o.busy_ticks += now - o.wait_end;
  o.wait_start = now;
}

void loop_wait_end(core& c) noexcept {
  if (!core_access::observing(c)) return;
  observer& o = *core_access::get_observer(c);
  if (o.wait_start == 0) return;
  const std::uint64_t now = observer::now_ticks();
  const std::uint8_t bits = core_access::observe_bits(c);
  if (bits & observe_metrics) {
    ++o.loop_wakeups;
    o.idle_ticks += now - o.wait_start;
  }
  if (bits & observe_trace) {
    trace_event e;
    e.kind = trace_kind::loop_wait;
    e.start = o.wait_start;
    e.duration = now - o.wait_start;
    e.name = "loop wait";
    o.record(e);
  }
  o.wait_end = now;
  o.wait_start = 0;
}

}  // namespace detail

// --- core's members ---

detail::observer& core::make_observer() {
  if (observer_ == nullptr) observer_ = new detail::observer();
  return *observer_;
}

void core::set_logger(logger l, log_level level) {
  const bool on = static_cast<bool>(l);
  if (on || observer_ != nullptr) {
    detail::observer& o = make_observer();
    if (o.in_log) {  // the running logger is replaced (destroyed) once it returns
      o.next_log = std::move(l);
      o.log_replaced = true;
    } else {
      o.log = std::move(l);
    }
  }
  log_level_ = on ? level : log_level::off;
}

void core::set_log_level(log_level level) noexcept {
  const bool has =
      observer_ != nullptr && (observer_->log_replaced ? static_cast<bool>(observer_->next_log)
                                                       : static_cast<bool>(observer_->log));
  log_level_ = has ? level : log_level::off;
}

void core::set_audit_calls(bool on) noexcept {
#if STAKKER_OBSERVE_HOOKS
  if (on) {
    try {
      make_observer();
    } catch (...) {
      return;
    }
    observe_ |= detail::observe_audit_calls;
  } else {
    observe_ &= static_cast<std::uint8_t>(~detail::observe_audit_calls);
  }
#else
  (void)on;
#endif
}

void core::log(log_level l, std::string_view message, std::span<const log_field> fields) {
  if (!log_enabled(l) || observer_ == nullptr) return;
  detail::actor_block* a = current_;
  if (a == nullptr && extension_ != nullptr) a = extension_->running_actor();
  observer_->emit(*this, l, log_kind::message, a, message, fields);
}

void core::trace_start(std::size_t capacity) {
#if STAKKER_OBSERVE_HOOKS
  capacity = std::bit_ceil(std::max<std::size_t>(capacity, 16));
  detail::observer& o = make_observer();
  if (o.capacity != capacity) {
    o.ring.reset();
    o.ring = std::make_unique<trace_event[]>(capacity);
    o.capacity = capacity;
    o.mask = capacity - 1;
  }
  o.recorded = 0;
  (void)detail::process_anchor();
  o.trace_start = detail::observer::now_ticks();
  o.trace_started_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(detail::steady::now().time_since_epoch())
          .count();
  observe_ |= detail::observe_trace;
#else
  (void)capacity;
  throw std::logic_error(
      "stakker::core::trace_start: built with STAKKER_OBSERVE_HOOKS=0 (tracing compiled out)");
#endif
}

void core::trace_stop() noexcept { observe_ &= static_cast<std::uint8_t>(~detail::observe_trace); }

trace_snapshot core::trace_read() const {
  trace_snapshot s;
  s.runtime = id_;
  if (observer_ == nullptr || !observer_->ring) return s;
  const detail::observer& o = *observer_;
  s.recorded = o.recorded;
  s.started_ns = o.trace_started_ns;
  const std::uint64_t kept = std::min<std::uint64_t>(o.recorded, o.capacity);
  s.overwritten = o.recorded - kept;
  s.events.reserve(static_cast<std::size_t>(kept));
  const double scale = detail::ns_per_tick();
  auto to_ns = [&](std::uint64_t t) {
    return t <= o.trace_start
               ? 0
               : static_cast<std::uint64_t>(static_cast<double>(t - o.trace_start) * scale);
  };
  for (std::uint64_t i = o.recorded - kept; i < o.recorded; ++i) {
    trace_event e = o.ring[static_cast<std::size_t>(i) & o.mask];
    e.start = to_ns(e.start);
    if (e.kind != trace_kind::timer_set && e.kind != trace_kind::timer_fire &&
        e.kind != trace_kind::wake && e.kind != trace_kind::inbox)
      e.duration = static_cast<std::uint64_t>(static_cast<double>(e.duration) * scale);
    s.events.push_back(e);
  }
  return s;
}

void core::trace_timer_set(std::uint32_t slot, instant t) noexcept {
  trace_event e;
  e.kind = trace_kind::timer_set;
  e.start = detail::observer::now_ticks();
  e.key = slot;
  e.count = static_cast<std::uint64_t>(std::max(duration::zero(), saturating_sub(t, now_)).count());
  if (current_ != nullptr) {
    e.actor = current_->id;
    e.type = current_->type_name();
  }
  e.name = "timer set";
  observer_->record(e);
}

void core::metrics_enable(bool on) {
#if STAKKER_OBSERVE_HOOKS
  if (on) {
    make_observer();
    (void)detail::process_anchor();
    observe_ |= detail::observe_metrics;
  } else {
    observe_ &= static_cast<std::uint8_t>(~detail::observe_metrics);
  }
#else
  (void)on;
#endif
}

runtime_metrics core::metrics() const {
  runtime_metrics m;
  m.runtime = id_;
  m.actors_created = actors_created_;
  m.actors_alive = actors_created_ - actors_stopped_;
  m.actors_failed = actors_failed_;
  m.timers_pending = timers_.size();
  m.calls_queued = calls_.queued;
  m.calls_run = calls_.run;
  const std::uint64_t done = calls_.run + calls_.dropped;
  m.queue_depth = calls_.queued > done ? calls_.queued - done : 0;
  m.queue_depth_max = calls_.depth_max;
  if (observer_ != nullptr) {
    const detail::observer& o = *observer_;

    m.wakes = o.wakes;
    m.cross_thread_items = o.cross_thread_items;
    m.loop_wakeups = o.loop_wakeups;
    if (o.busy_ticks != 0 || o.idle_ticks != 0) {
      const double scale = detail::ns_per_tick();
      m.busy = duration(static_cast<duration::rep>(static_cast<double>(o.busy_ticks) * scale));
      m.idle = duration(static_cast<duration::rep>(static_cast<double>(o.idle_ticks) * scale));
    }
    m.types = o.types;
  }
  return m;
}

}  // namespace stakker
