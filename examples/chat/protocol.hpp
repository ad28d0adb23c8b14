// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat demo's line protocol, shared by the server and the load generator.
//
//   server -> client   "HELLO <id>\n"          once, on connect
//   client -> server   "SAY <text>\n"          a message for the room
//   server -> client   "FROM <id> <text>\n"    every message said in the room, to everyone
//   server -> client   "ERROR <reason>\n"      then the server closes the connection
//
// A connection ends with a half-close from the client: the server flushes what it owes and
// closes too.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace chat {

// Longest line either side accepts, its '\n' included; a longer one is a protocol error.
inline constexpr std::size_t max_line = 4096;

// Parses the decimal number at the start of `s` and removes it (and one space after it).
inline std::optional<std::uint64_t> take_number(std::string_view& s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return v;
}

// Calls `line(text)` for each complete line at the start of `input` (without its '\n') and
// returns how many bytes they took, so the caller can consume them. Stops early, returning
// what it took so far, when `line` returns false.
template <class F>
std::size_t for_each_line(std::string_view input, F&& line) {
  std::size_t used = 0;
  for (;;) {
    const std::size_t nl = input.find('\n', used);
    if (nl == std::string_view::npos) return used;
    if (!line(input.substr(used, nl - used))) return used;
    used = nl + 1;
  }
}

// What a server makes of a client's unconsumed input: the first `used` bytes are complete,
// valid "SAY <text>" lines (at most max_line bytes each, '\n' included), to be said in
// the room and consumed. `error` is set at the first line that breaks the protocol (not a
// SAY, or too long), and also when the unterminated rest is already too long to become a
// valid line, so a client cannot make the server hold more than max_line bytes of it.
struct scan_result {
  std::size_t used = 0;
  std::string_view error;  // static text; empty if the input is fine so far
};

inline scan_result scan_input(std::string_view input) {
  scan_result r;
  r.used = for_each_line(input, [&](std::string_view line) {
    if (line.size() + 1 > max_line)
      r.error = "line too long";
    else if (!line.starts_with("SAY "))
      r.error = "unknown command";
    return r.error.empty();
  });
  if (r.error.empty() && input.size() - r.used >= max_line) r.error = "line too long";
  return r;
}

}  // namespace chat
