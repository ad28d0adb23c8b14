// SPDX-License-Identifier: MIT OR Apache-2.0
// Log records: what the runtime hands to the one logger a user sets (contract O1, O2).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "stakker/export.hpp"
#include "stakker/time.hpp"

namespace stakker {

// Levels in increasing severity; `off` filters everything (a runtime without a logger).
enum class log_level : std::uint8_t { trace, debug, info, warn, error, off };

// "trace", "debug", "info", "warn", "error", "off".
STAKKER_EXPORT std::string_view to_string(log_level l) noexcept;

// A message logged by user code, or an audit record written by the runtime: an actor
// started ("started"), stopped ("stopped", with its cause; level warn when it failed or was
// killed) or, when call auditing is on, had a call delivered ("call", level trace).
enum class log_kind : std::uint8_t { message, audit };

// One key and value. `quoted` says whether the value is text (false: a number, true or
// false, written without quotes by the JSON sink).
struct log_field {
  std::string_view key;
  std::string_view value;
  bool quoted = true;
};

// Everything here refers to storage that lives only while the logger runs: a logger that
// keeps a record copies what it needs.
struct log_record {
  instant time;                 // the runtime's time (the loop's clock, or virtual time)
  log_level level;              //
  log_kind kind;                //
  std::uint32_t runtime;        // the runtime's id (core::id), unique in the process
  std::uint64_t actor;          // the actor's id, unique in its runtime; 0: not an actor's
  std::string_view actor_type;  // the actor's state type ("chat::room"); empty if none
  std::string_view message;     //
  std::span<const log_field> fields;
};

// Called on the runtime's thread, synchronously, for every record at or above the runtime's
// level. It must not throw (an exception is reported on stderr and dropped); it may log no
// further record of its own runtime (a nested record is dropped).
using logger = std::function<void(const log_record&)>;

}  // namespace stakker

// Records below this level are compiled out of the STAKKER_LOG macros entirely
// (stakker/observe/log.hpp): 0 trace, 1 debug, 2 info, 3 warn, 4 error.
#if !defined(STAKKER_LOG_MIN_LEVEL)
#define STAKKER_LOG_MIN_LEVEL 0
#endif
