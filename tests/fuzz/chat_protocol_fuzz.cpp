// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat server's input parsing (examples/chat/protocol.hpp) on arbitrary client bytes:
// scan_input's result is checked line by line, and a server fed the same bytes in random
// chunks (scanning, consuming what was used, stopping at an error) must end where one scan
// of the whole input does: scanning a prefix never contradicts scanning the whole.
// take_number is checked against a plain decimal reading, and round-trips every number.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chat/protocol.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using stakker::fuzz::require;

bool is_say_line(std::string_view line) {
  return line.size() + 1 <= chat::max_line && line.starts_with("SAY ");
}

// Every property of one scan that can be read off the input itself.
chat::scan_result checked_scan(std::string_view input) {
  const chat::scan_result r = chat::scan_input(input);
  require(r.used <= input.size(), "used past the end");
  require(r.used == 0 || input[r.used - 1] == '\n', "used does not end at a '\\n'");
  for (std::size_t at = 0; at < r.used;) {
    const std::size_t nl = input.find('\n', at);
    require(is_say_line(input.substr(at, nl - at)), "a used line is not a valid SAY line");
    at = nl + 1;
  }
  const std::size_t nl = input.find('\n', r.used);
  const bool bad_line =
      nl != std::string_view::npos && !is_say_line(input.substr(r.used, nl - r.used));
  const bool long_rest = nl == std::string_view::npos && input.size() - r.used >= chat::max_line;
  require(nl == std::string_view::npos || bad_line, "stopped before a valid complete line");
  require(!r.error.empty() == (bad_line || long_rest),
          "error is not set exactly for a bad line or an unterminated rest of max_line bytes");
  return r;
}

// A server reading `input` in chunks: appends each, scans, consumes the lines used, and
// stops at the first error. Returns the bytes consumed in all and whether it stopped.
std::pair<std::size_t, bool> chunked(std::string_view input, std::uint32_t seed) {
  std::string pending;
  std::size_t consumed = 0;
  for (std::size_t at = 0; at < input.size();) {
    seed = seed * 1664525u + 1013904223u;
    const std::size_t n = (seed >> 24) < 16 ? (seed >> 8) % 5000 + 1 : (seed >> 8) % 64 + 1;
    pending.append(input.substr(at, n));
    at += std::min(n, input.size() - at);
    const chat::scan_result r = checked_scan(pending);
    consumed += r.used;
    pending.erase(0, r.used);
    if (!r.error.empty()) return {consumed, true};
  }
  return {consumed, false};
}

// take_number against a plain reading of the leading digits (nullopt: none, or too big).
void check_take_number(std::string_view s) {
  // Plain variables, not an optional: g++ 12 -O2 misreads an optional built up in a loop
  // as maybe uninitialized.
  std::size_t digits = 0;
  std::uint64_t value = 0;
  bool fits = true;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
    const auto d = static_cast<std::uint64_t>(s[digits] - '0');
    if (fits && value > (UINT64_MAX - d) / 10) fits = false;
    if (fits) value = value * 10 + d;
    ++digits;
  }
  const bool expect_number = digits != 0 && fits;
  std::string_view rest = s;
  const std::optional<std::uint64_t> got = chat::take_number(rest);
  require(got.has_value() == expect_number && (!got || *got == value),
          "take_number's value differs from the digits'");
  if (!got) {
    require(rest == s, "a failed take_number changed its input");
    return;
  }
  std::string_view after = s.substr(digits);
  if (after.starts_with(' ')) after.remove_prefix(1);
  require(rest == after, "take_number did not remove exactly the number and one space");
  const std::string text = std::to_string(*got) + " x";
  std::string_view again = text;
  require(chat::take_number(again) == got && again == "x",
          "take_number does not read back to_string of its value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const chat::scan_result whole = checked_scan(input);
  const std::uint32_t seed = size == 0 ? 0u : data[0] * 0x01010101u;
  const auto [consumed, stopped] = chunked(input, seed);
  require(stopped == !whole.error.empty(), "chunked reading and one scan disagree on an error");
  require(consumed == whole.used, "chunked reading consumed other bytes than one scan");

  check_take_number(input);
  const std::size_t space = input.find(' ');
  if (space != std::string_view::npos) check_take_number(input.substr(space + 1));
  return 0;
}
