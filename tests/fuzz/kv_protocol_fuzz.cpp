// SPDX-License-Identifier: MIT OR Apache-2.0
// The key-value protocol (examples/asio_kv/protocol.{hpp,cpp}) on arbitrary lines: parsed
// commands and replies keep their promises (keys valid, lengths within max_value), and every
// line the protocol writes parses back to what made it. The input is one line to parse, then
// the same bytes as a key and a length for the writers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "asio_kv/protocol.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using stakker::fuzz::require;

std::string_view without_newline(const std::string& line) {
  std::string_view v(line);
  require(v.ends_with('\n'), "a written line does not end in '\\n'");
  v.remove_suffix(1);
  return v;
}

void check_parsed(std::string_view line) {
  const kv::command c = kv::parse_command(line);
  switch (c.what) {
    case kv::verb::set:
      require(c.length <= kv::max_value, "SET length over max_value");
      [[fallthrough]];
    case kv::verb::get:
    case kv::verb::del:
      require(kv::valid_key(c.key), "a parsed command has an invalid key");
      require(c.error.empty(), "a good command carries an error");
      break;
    case kv::verb::bad:
      require(!c.error.empty(), "a bad command has no reason");
      break;
    case kv::verb::blank:
      require(line.empty() || line == "\r", "a line with text parsed as blank");
      break;
    case kv::verb::quit:
      break;
  }
  const kv::reply r = kv::parse_reply(line);
  if (r.what == kv::answer::value) require(r.length <= kv::max_value, "VALUE over max_value");
  if (r.what == kv::answer::bad) require(r.text == line, "a bad reply does not carry its line");
}

void check_round_trips(std::string_view key, std::size_t length) {
  if (kv::valid_key(key)) {
    const std::string set = kv::set_line(key, length);
    const kv::command s = kv::parse_command(without_newline(set));
    if (length <= kv::max_value)
      require(s.what == kv::verb::set && s.key == key && s.length == length,
              "set_line does not parse back");
    else
      require(s.what == kv::verb::bad, "a SET over max_value parsed");
    const std::string get = kv::get_line(key);
    const kv::command g = kv::parse_command(without_newline(get));
    require(g.what == kv::verb::get && g.key == key, "get_line does not parse back");
    const std::string del = kv::del_line(key);
    const kv::command d = kv::parse_command(without_newline(del));
    require(d.what == kv::verb::del && d.key == key, "del_line does not parse back");
  } else {
    // A line made with an invalid key may still parse (a trailing space or '\r' is dropped),
    // but never to that key.
    const std::string get = kv::get_line(key);
    const kv::command g = kv::parse_command(without_newline(get));
    require(g.what != kv::verb::get || g.key != key, "GET with an invalid key parsed");
  }
  const kv::reply v = kv::parse_reply(without_newline(kv::value_line(length)));
  if (length <= kv::max_value)
    require(v.what == kv::answer::value && v.length == length, "value_line does not parse back");
  else
    require(v.what == kv::answer::bad, "a VALUE over max_value parsed");
  // An error reason is any text without a '\n' (a '\r' at its end is taken for telnet's).
  if (key.find('\n') == std::string_view::npos && !key.ends_with('\r')) {
    const std::string error = kv::error_line(key);  // the reply views it
    const kv::reply e = kv::parse_reply(without_newline(error));
    require(e.what == kv::answer::error && e.text == key, "error_line does not parse back");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_parsed(input);
  std::size_t length = 0;
  for (std::size_t i = 0; i < input.size() && i < 8; ++i)
    length = length * 256 + static_cast<unsigned char>(input[i]);
  check_round_trips(input, length % (kv::max_value * 2));
  check_round_trips(input.substr(0, input.find(' ')), length & 0xffff);
  return 0;
}
