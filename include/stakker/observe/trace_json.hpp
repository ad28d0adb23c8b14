// SPDX-License-Identifier: MIT OR Apache-2.0
// A trace as Trace Event JSON: the format Perfetto's UI (ui.perfetto.dev) and
// chrome://tracing open. One process per runtime, one thread (track) per actor.
#pragma once

#include <span>
#include <string>

#include "stakker/observe/export.hpp"
#include "stakker/trace.hpp"

namespace stakker::observe {

// One JSON document holding every snapshot (runtimes of one process, e.g. the shards of a
// `shards`, read after their loops stopped): pid = the runtime's id, tid = the actor's id
// (tid 0: the runtime's own track, for the loop's waits, timers due, wake-ups and closures
// that are not actor calls). Times ("ts", "dur") are microseconds from the earliest
// snapshot's start, so the runtimes line up.
//  - a call: a complete slice ("X", category "call") named after its member, or "call";
//  - the queueing of a call that ran: a flow arrow ("s" then "f", category "flow") from
//    the queueing actor's slice to the call's (a ret answered, a message sent);
//  - a task's run between suspensions: a slice "task" (category "task") on its actor's
//    track (tid 0 for a task tied to no actor);
//  - timers set ("timer set", on the setting actor's track) and due ("timers due"), and
//    cross-thread wake-ups ("wake", "inbox"): instants ("i");
//  - the loop's sleeps: slices "loop wait" (category "loop") on tid 0.
// Metadata events name each process ("runtime 1") and track ("chat::room #17").
// "otherData" holds, per runtime, how many events were recorded and overwritten.
STAKKER_OBSERVE_EXPORT std::string trace_json(std::span<const trace_snapshot> traces);

// Writes trace_json(traces) to the file at `path`; throws std::system_error on failure.
STAKKER_OBSERVE_EXPORT void write_trace_json(const std::string& path,
                                             std::span<const trace_snapshot> traces);

}  // namespace stakker::observe
