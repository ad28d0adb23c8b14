// SPDX-License-Identifier: MIT OR Apache-2.0
// A runtime's counters, read in process (core::metrics) or exported in Prometheus' text
// format (stakker/observe/prometheus.hpp).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "stakker/time.hpp"

namespace stakker {

// Per state type, counted while metrics are enabled.
struct actor_type_metrics {
  std::string_view type;  // static storage
  std::uint64_t created = 0;
  std::uint64_t stopped = 0;
  std::uint64_t failed = 0;
};

struct runtime_metrics {
  std::uint32_t runtime = 0;  // core::id
  // Counted always (one increment per actor created or stopped).
  std::uint64_t actors_created = 0;
  std::uint64_t actors_alive = 0;   // created and not yet stopped
  std::uint64_t actors_failed = 0;  // stopped with stop_kind::failed
  std::uint64_t timers_pending = 0;
  // Counted while metrics are enabled (core::metrics_enable).
  std::uint64_t calls_queued = 0;     // actor calls queued
  std::uint64_t calls_run = 0;        // actor calls run
  std::uint64_t queue_depth = 0;      // actor calls queued and not yet run, now
  std::uint64_t queue_depth_max = 0;  // the most ever at once (the high-water mark)
  std::uint64_t wakes = 0;            // waker handler calls: wake-ups that came from other threads
  std::uint64_t cross_thread_items = 0;  // closures posted from other threads or shards, run
  // Reported by the epoll_loop while metrics are enabled (Asio's loops do not: their
  // io_context sleeps inside its own run).
  std::uint64_t loop_wakeups = 0;         // returns from the loop's wait
  duration busy{};                        // time outside the wait
  duration idle{};                        // time inside it
  std::vector<actor_type_metrics> types;  // in the order the types were first seen
};

}  // namespace stakker
