// SPDX-License-Identifier: MIT OR Apache-2.0
// Logging from actors and tasks with {fmt}: the STAKKER_LOG macros, key-value fields, and
// the two sinks (human-readable text, JSON lines). Records go to the runtime's one logger
// (core::set_logger); see stakker/log.hpp for what a record holds.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "stakker/core.hpp"
#include "stakker/log.hpp"
#include "stakker/observe/export.hpp"

namespace stakker::observe {

// Key-value fields for a record, formatted with {fmt} when the record is written:
// `fields("user", name, "count", n)`. Numbers and bools are written unquoted by the JSON
// sink, everything else as strings.
template <std::size_t N>
struct field_list {
  std::array<std::string, N> values;
  std::array<log_field, N> list;
};

namespace detail {
template <class T>
inline constexpr bool unquoted =
    std::is_arithmetic_v<std::remove_cvref_t<T>> && !std::is_same_v<std::remove_cvref_t<T>, char>;

template <std::size_t N, std::size_t I = 0, class K, class V, class... Rest>
void fill(field_list<N>& f, K&& key, V&& value, Rest&&... rest) {
  f.values[I] = fmt::format("{}", std::forward<V>(value));
  f.list[I] = log_field{std::string_view(key), std::string_view(), !unquoted<V>};
  if constexpr (sizeof...(Rest) > 0) fill<N, I + 1>(f, std::forward<Rest>(rest)...);
}
}  // namespace detail

template <class... KV>
field_list<sizeof...(KV) / 2> fields(KV&&... kv) {
  static_assert(sizeof...(KV) % 2 == 0 && sizeof...(KV) > 0,
                "stakker::observe::fields: give keys and values in pairs: fields(\"k\", v, ...)");
  field_list<sizeof...(KV) / 2> f;
  detail::fill(f, std::forward<KV>(kv)...);
  for (std::size_t i = 0; i < f.list.size(); ++i) f.list[i].value = f.values[i];
  return f;
}

namespace detail {
// Whether records at `l` are compiled in, for STAKKER_LOG_MIN_LEVEL = Min: a template
// argument, so that translation units built with different minimums each get their own.
template <int Min>
constexpr bool compiled_in(log_level l) noexcept {
  return static_cast<int>(l) - Min >= 0;
}

// The runtime behind a cx<A> or a core&.
inline core& core_of(core& c) noexcept { return c; }
template <class X>
requires requires(const X& x) { x.core(); }
core& core_of(const X& x) noexcept { return x.core(); }

// How an argument reaches the formatting: a scalar by value, anything else by reference.
// The macro's branch then keeps a filtered-out record's arguments in registers (a
// reference to a scalar would make the caller store it, on every call, taken or not).
template <class A>
using pass_t = std::conditional_t<std::is_scalar_v<std::remove_cvref_t<A>>, std::remove_cvref_t<A>,
                                  const std::remove_reference_t<A>&>;

// Out of line and cold: formats and writes the record.
template <class... Args>
[[gnu::cold, gnu::noinline]] void write_record(core& c, log_level l, fmt::format_string<Args...> f,
                                               Args... args) {
  c.log(l, fmt::format(f, std::forward<Args>(args)...));
}
template <std::size_t N, class... Args>
[[gnu::cold, gnu::noinline]] void write_record(core& c, log_level l, const field_list<N>& kv,
                                               fmt::format_string<Args...> f, Args... args) {
  c.log(l, fmt::format(f, std::forward<Args>(args)...),
        std::span<const log_field>(kv.list.data(), N));
}

template <class X, class... Args>
void write(X& x, log_level l, fmt::format_string<pass_t<Args>...> f, Args&&... args) {
  write_record<pass_t<Args>...>(core_of(x), l, f, args...);
}
template <class X, std::size_t N, class... Args>
void write(X& x, log_level l, const field_list<N>& kv, fmt::format_string<pass_t<Args>...> f,
           Args&&... args) {
  write_record<N, pass_t<Args>...>(core_of(x), l, kv, f, args...);
}
template <class X>
bool enabled(X& x, log_level l) noexcept {
  return core_of(x).log_enabled(l);
}
}  // namespace detail

// A record as one line of text: "   12.345678 INFO  rt1 #17 chat::room: message k=v".
// The time is the record's (the runtime's clock, in seconds).
STAKKER_OBSERVE_EXPORT std::string format_text(const log_record& r);
// A record as one JSON object (no newline): {"time_ns":..,"level":"info","kind":"message",
// "runtime":1,"actor":17,"type":"chat::room","message":"..","fields":{"k":"v"}}.
STAKKER_OBSERVE_EXPORT std::string format_json(const log_record& r);

// A logger writing format_text lines to `out` (stderr by default), flushed per record.
STAKKER_OBSERVE_EXPORT logger text_logger(std::FILE* out = stderr);
// A logger writing format_json lines (JSON lines) to `out`, flushed per record.
STAKKER_OBSERVE_EXPORT logger json_lines_logger(std::FILE* out);

}  // namespace stakker::observe

// STAKKER_LOG(x, level, [fields(...),] "format {}", args...): `x` is a cx<A> or a core&.
// Nothing after `level` is evaluated unless the runtime's level lets the record through;
// levels below STAKKER_LOG_MIN_LEVEL compile to nothing at all.
#define STAKKER_LOG(x, level, ...)                                                         \
  do {                                                                                     \
    if constexpr (::stakker::observe::detail::compiled_in<STAKKER_LOG_MIN_LEVEL>(level)) { \
      if (::stakker::observe::detail::enabled((x), (level))) [[unlikely]]                  \
        ::stakker::observe::detail::write((x), (level), __VA_ARGS__);                      \
    }                                                                                      \
  } while (false)
#define STAKKER_LOG_TRACE(x, ...) STAKKER_LOG(x, ::stakker::log_level::trace, __VA_ARGS__)
#define STAKKER_LOG_DEBUG(x, ...) STAKKER_LOG(x, ::stakker::log_level::debug, __VA_ARGS__)
#define STAKKER_LOG_INFO(x, ...) STAKKER_LOG(x, ::stakker::log_level::info, __VA_ARGS__)
#define STAKKER_LOG_WARN(x, ...) STAKKER_LOG(x, ::stakker::log_level::warn, __VA_ARGS__)
#define STAKKER_LOG_ERROR(x, ...) STAKKER_LOG(x, ::stakker::log_level::error, __VA_ARGS__)
