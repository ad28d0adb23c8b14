// SPDX-License-Identifier: MIT OR Apache-2.0
// Timeline tracing: what a runtime records, when asked, into a preallocated ring buffer
// (contract O3). Exported as Trace Event JSON by stakker/observe/trace_json.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace stakker {

enum class trace_kind : std::uint8_t {
  call,        // an actor call ran: actor, name (its member, if known), start, duration
  enqueue,     // an actor call was queued: actor (its target), from (the running actor or 0)
  task,        // a coroutine task ran from a resumption to its next suspension or its end:
               // actor (the actor it is tied to, or 0), key (its chain)
  timer_set,   // a timer was set: key (its slot), count (nanoseconds until it is due)
  timer_fire,  // timers became due: count (how many moved to the queue)
  loop_wait,   // the loop slept: start, duration
  wake,        // waker handlers ran (wake-ups from other threads): count
  inbox,       // closures posted from other threads or shards ran: count
};

// One recorded event. Times are nanoseconds since the trace started, on the machine's
// monotonic clock (never the runtime's virtual time). `key` pairs an enqueue with the call
// it queued (the same key, the enqueue first: the exporter draws a flow arrow between them;
// a key may come back for a later, unrelated pair once the first has run).
struct trace_event {
  std::uint64_t start = 0;
  std::uint64_t duration = 0;  // 0 for an instant
  std::uint64_t actor = 0;
  std::uint64_t from = 0;  // enqueue: the actor whose call queued it (0: none)
  std::uint64_t key = 0;
  std::uint64_t count = 0;
  const char* name = nullptr;  // static storage: a member's name ("chat::room::say")
  const char* type = nullptr;  // static storage: the actor's state type ("chat::room")
  trace_kind kind = trace_kind::call;
};

// What `core::trace_read` returns: the events still in the ring, oldest first.
struct trace_snapshot {
  std::uint32_t runtime = 0;      // core::id
  std::int64_t started_ns = 0;    // when the trace started: steady_clock, since its epoch
  std::uint64_t recorded = 0;     // events recorded since the trace started
  std::uint64_t overwritten = 0;  // of those, lost to wrapping (recorded - events.size())
  std::vector<trace_event> events;
};

}  // namespace stakker
