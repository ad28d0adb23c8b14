// SPDX-License-Identifier: MIT OR Apache-2.0
// prometheus_text: runtimes' counters in Prometheus' text exposition format (0.0.4).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "stakker/metrics.hpp"
#include "stakker/observe/export.hpp"

namespace stakker::observe {

// The Content-Type of prometheus_text's output, as an HTTP response names it.
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

// Formats `runtimes` (one sample each, labelled runtime="<id>") in Prometheus' text
// exposition format 0.0.4, each family once with its `# HELP` and `# TYPE` lines:
//
// - counters: stakker_actors_created_total, stakker_actors_failed_total,
//   stakker_calls_queued_total, stakker_calls_run_total, stakker_wakes_total,
//   stakker_cross_thread_items_total, stakker_loop_wakeups_total,
//   stakker_busy_seconds_total, stakker_idle_seconds_total (seconds as floating point);
// - gauges: stakker_actors_alive, stakker_timers_pending, stakker_queue_depth,
//   stakker_queue_depth_max;
// - per actor type (label type="<name>" too, escaped as the format requires):
//   stakker_actor_type_created_total, stakker_actor_type_stopped_total,
//   stakker_actor_type_failed_total.
//
// Pure: call it on any thread with metrics read on the runtimes' own (core::metrics).
// Throws std::bad_alloc only.
STAKKER_OBSERVE_EXPORT std::string prometheus_text(std::span<const runtime_metrics> runtimes);

// A label value escaped for the text format: `\` as `\\`, `"` as `\"`, newline as `\n`.
STAKKER_OBSERVE_EXPORT std::string prometheus_escape_label(std::string_view value);

}  // namespace stakker::observe
