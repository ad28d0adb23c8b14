// SPDX-License-Identifier: MIT OR Apache-2.0
// Internal configuration: debug checks and branch hints.
#pragma once

#include "stakker/export.hpp"

// Debug checks (misuse assertions) follow NDEBUG unless set explicitly. They never change
// the layout of any type, so translation units built with and without them link together.
#if !defined(STAKKER_DEBUG_CHECKS)
#if defined(NDEBUG)
#define STAKKER_DEBUG_CHECKS 0
#else
#define STAKKER_DEBUG_CHECKS 1
#endif
#endif

// The observability hooks on the paths of calls, timers and tasks (contract O3): on by
// default, each one predicted branch while nothing is recorded. 0 compiles them out (a
// runtime then records no trace, call counts or call audits; logging stays). Unlike the
// debug checks this must be the same in every translation unit of a program.
#if !defined(STAKKER_OBSERVE_HOOKS)
#define STAKKER_OBSERVE_HOOKS 1
#endif

// For the few functions on the path of every queued call, where a call instruction and its
// register spills would cost as much as the work itself.
#if defined(__GNUC__)
#define STAKKER_INLINE [[gnu::always_inline]] inline
#else
#define STAKKER_INLINE inline
#endif

// For the rare paths of those functions (a call to an actor not Ready, a stop to apply):
// out of line, so that the hot function keeps no registers or frame for them.
#if defined(__GNUC__)
#define STAKKER_COLD [[gnu::noinline, gnu::cold]]
#define STAKKER_NOINLINE [[gnu::noinline]]
#else
#define STAKKER_COLD
#define STAKKER_NOINLINE
#endif
// STAKKER_NOINLINE, not STAKKER_COLD, for a path that is rare by default but may be the
// common one (a call while metrics or tracing are on): a cold function is optimized for
// size, and whatever is inlined into it (the member itself) with it.

namespace stakker::detail {

// Prints "stakker: misuse: <what> (<file>:<line>)" to stderr and aborts.
[[noreturn]] STAKKER_EXPORT void misuse(const char* what, const char* file, int line) noexcept;

}  // namespace stakker::detail

// Asserts a usage rule in debug builds; compiles to nothing otherwise.
#if STAKKER_DEBUG_CHECKS
#define STAKKER_ASSERT(cond, what) \
  ((cond) ? void(0) : ::stakker::detail::misuse(what, __FILE__, __LINE__))
#else
#define STAKKER_ASSERT(cond, what) void(0)
#endif
