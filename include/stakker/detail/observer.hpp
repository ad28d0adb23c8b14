// SPDX-License-Identifier: MIT OR Apache-2.0
// A runtime's observability state (made when logging, tracing or metrics start), and the
// hooks other parts of the library call when core_access::observing says something records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "stakker/export.hpp"
#include "stakker/log.hpp"
#include "stakker/metrics.hpp"
#include "stakker/stop_cause.hpp"
#include "stakker/trace.hpp"

namespace stakker {
class core;
}

namespace stakker::detail {

struct actor_block;

struct STAKKER_EXPORT observer {
  // Logging. `in_log`: a record written from inside the logger is dropped.
  logger log;
  bool in_log = false;
  // set_logger from inside the logger: the running one is replaced once it returns.
  bool log_replaced = false;
  logger next_log;
  // The trace ring: `capacity` events (a power of two), the next written at recorded & mask.
  std::unique_ptr<trace_event[]> ring;
  std::size_t capacity = 0;
  std::size_t mask = 0;
  std::uint64_t recorded = 0;
  std::uint64_t trace_start = 0;      // ticks
  std::int64_t trace_started_ns = 0;  // steady_clock, since its epoch
  // Metrics.
  std::uint64_t wakes = 0;
  std::uint64_t cross_thread_items = 0;
  std::uint64_t loop_wakeups = 0;
  std::uint64_t busy_ticks = 0;
  std::uint64_t idle_ticks = 0;
  std::uint64_t wait_start = 0;  // ticks; 0 while not waiting
  std::uint64_t wait_end = 0;    // ticks; 0 before the first wait
  std::vector<actor_type_metrics> types;

  // The trace's clock (raw ticks; core::trace_read converts them to nanoseconds).
  static std::uint64_t now_ticks() noexcept;
  void record(const trace_event& e) noexcept;
  actor_type_metrics& type_counts(const char* type);
  // Hands one record to the logger (if any), attributed to actor `a` (may be null).
  void emit(core& c, log_level l, log_kind kind, actor_block* a, std::string_view message,
            std::span<const log_field> fields) noexcept;
};

// A new runtime's id: 1, 2, ... in the process.
STAKKER_EXPORT std::uint32_t new_runtime_id() noexcept;
// An actor stopped with `cause` (its counters, its audit record).
STAKKER_EXPORT void observed_stop(core& c, actor_block* b, const stop_cause& cause) noexcept;
// `n` timers became due in this run.
STAKKER_EXPORT void observed_timers_due(core& c, std::size_t n) noexcept;
// `handlers` waker handlers ran in this run.
STAKKER_EXPORT void observed_wakes(core& c, std::size_t handlers) noexcept;
// `items` closures from other threads ran (one inbox lane's batch).
STAKKER_EXPORT void observed_inbox(core& c, std::size_t items) noexcept;
// A coroutine chain tied to actor `actor` of type `type` (0 and null: none) ran from
// `start` (observer ticks) until now.
STAKKER_EXPORT void observed_task(core& c, std::uint64_t actor, const char* type, const void* chain,
                                  std::uint64_t start) noexcept;
// A loop is about to wait / has returned from its wait (busy and idle time, wake-ups, the
// trace's loop-wait slices). No-ops unless something records.
STAKKER_EXPORT void loop_wait_begin(core& c) noexcept;
STAKKER_EXPORT void loop_wait_end(core& c) noexcept;

}  // namespace stakker::detail
