// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/observe/prometheus.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace stakker::observe {

namespace {

using buffer = fmt::memory_buffer;

// One family of samples, one per runtime: `value(m)` reads it off a runtime's metrics.
template <class Value>
void family(buffer& out, std::span<const runtime_metrics> runtimes, std::string_view name,
            std::string_view type, std::string_view help, Value value) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  for (const runtime_metrics& m : runtimes)
    fmt::format_to(std::back_inserter(out), "{}{{runtime=\"{}\"}} {}\n", name, m.runtime, value(m));
}

void escape_into(buffer& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      default:
        out.push_back(c);
    }
  }
}

// One family of per-actor-type samples (labels runtime and type).
template <class Value>
void type_family(buffer& out, std::span<const runtime_metrics> runtimes, std::string_view name,
                 std::string_view help, Value value) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} counter\n", name, help, name);
  for (const runtime_metrics& m : runtimes) {
    for (const actor_type_metrics& t : m.types) {
      fmt::format_to(std::back_inserter(out), "{}{{runtime=\"{}\",type=\"", name, m.runtime);
      escape_into(out, t.type);
      fmt::format_to(std::back_inserter(out), "\"}} {}\n", value(t));
    }
  }
}

double seconds(duration d) noexcept { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string prometheus_escape_label(std::string_view value) {
  buffer out;
  escape_into(out, value);
  return fmt::to_string(out);
}

std::string prometheus_text(std::span<const runtime_metrics> runtimes) {
  buffer out;
  using m_t = const runtime_metrics&;
  family(out, runtimes, "stakker_actors_created_total", "counter", "Actors created.",
         [](m_t m) { return m.actors_created; });
  family(out, runtimes, "stakker_actors_failed_total", "counter", "Actors stopped by a failure.",
         [](m_t m) { return m.actors_failed; });
  family(out, runtimes, "stakker_calls_queued_total", "counter",
         "Actor calls queued (while metrics are enabled).", [](m_t m) { return m.calls_queued; });
  family(out, runtimes, "stakker_calls_run_total", "counter",
         "Actor calls run (while metrics are enabled).", [](m_t m) { return m.calls_run; });
  family(out, runtimes, "stakker_wakes_total", "counter",
         "Waker handler calls: work that came from other threads.", [](m_t m) { return m.wakes; });
  family(out, runtimes, "stakker_cross_thread_items_total", "counter",
         "Closures posted from other threads or shards, run.",
         [](m_t m) { return m.cross_thread_items; });
  family(out, runtimes, "stakker_loop_wakeups_total", "counter",
         "Returns of the loop from its wait.", [](m_t m) { return m.loop_wakeups; });
  family(out, runtimes, "stakker_busy_seconds_total", "counter",
         "Time the loop spent outside its wait, in seconds.",
         [](m_t m) { return seconds(m.busy); });
  family(out, runtimes, "stakker_idle_seconds_total", "counter",
         "Time the loop spent inside its wait, in seconds.", [](m_t m) { return seconds(m.idle); });
  family(out, runtimes, "stakker_actors_alive", "gauge", "Actors created and not yet stopped.",
         [](m_t m) { return m.actors_alive; });
  family(out, runtimes, "stakker_timers_pending", "gauge", "Timers set and not yet fired.",
         [](m_t m) { return m.timers_pending; });
  family(out, runtimes, "stakker_queue_depth", "gauge", "Actor calls queued and not yet run.",
         [](m_t m) { return m.queue_depth; });
  family(out, runtimes, "stakker_queue_depth_max", "gauge",
         "The most actor calls ever queued at once.", [](m_t m) { return m.queue_depth_max; });
  using t_t = const actor_type_metrics&;
  type_family(out, runtimes, "stakker_actor_type_created_total", "Actors created, by state type.",
              [](t_t t) { return t.created; });
  type_family(out, runtimes, "stakker_actor_type_stopped_total", "Actors stopped, by state type.",
              [](t_t t) { return t.stopped; });
  type_family(out, runtimes, "stakker_actor_type_failed_total",
              "Actors stopped by a failure, by state type.", [](t_t t) { return t.failed; });
  return fmt::to_string(out);
}

}  // namespace stakker::observe
