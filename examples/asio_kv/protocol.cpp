// SPDX-License-Identifier: MIT OR Apache-2.0
#include "protocol.hpp"

#include <charconv>
#include <optional>

namespace kv {

namespace {

// Removes and returns the text up to the next space (and the space).
std::string_view next_word(std::string_view& s) {
  const std::size_t sp = s.find(' ');
  const std::string_view word = s.substr(0, sp);
  s.remove_prefix(sp == std::string_view::npos ? s.size() : sp + 1);
  return word;
}

// A plain decimal number: digits only, no sign, no spaces.
std::optional<std::size_t> number(std::string_view s) {
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view without_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

command make_command(verb what, std::string_view key = {}, std::size_t length = 0) {
  return command{what, key, length, {}};
}
command bad(std::string_view why) { return command{verb::bad, {}, 0, why}; }

reply make_reply(answer what, std::size_t length = 0, std::string_view text = {}) {
  return reply{what, length, text};
}

}  // namespace

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > max_key) return false;
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

command parse_command(std::string_view line) {
  std::string_view rest = without_cr(line);
  if (rest.empty()) return make_command(verb::blank);
  const std::string_view name = next_word(rest);
  if (name == "QUIT")
    return rest.empty() ? make_command(verb::quit) : bad("QUIT takes no arguments");
  verb what;
  if (name == "SET") {
    what = verb::set;
  } else if (name == "GET") {
    what = verb::get;
  } else if (name == "DEL") {
    what = verb::del;
  } else {
    return bad("unknown command");
  }
  const std::string_view key = next_word(rest);
  if (!valid_key(key)) return bad("bad key");
  if (what != verb::set) return rest.empty() ? make_command(what, key) : bad("too many arguments");
  const std::optional<std::size_t> length = number(rest);
  if (!length) return bad("bad length");
  if (*length > max_value) return bad("value too large");
  return make_command(what, key, *length);
}

reply parse_reply(std::string_view line) {
  std::string_view rest = without_cr(line);
  const std::string_view name = next_word(rest);
  if (name == "OK" && rest.empty()) return make_reply(answer::ok);
  if (name == "NONE" && rest.empty()) return make_reply(answer::none);
  if (name == "DELETED" && rest.empty()) return make_reply(answer::deleted);
  if (name == "BYE" && rest.empty()) return make_reply(answer::bye);
  if (name == "ERROR") return make_reply(answer::error, 0, rest);
  if (name == "VALUE") {
    const std::optional<std::size_t> length = number(rest);
    if (length && *length <= max_value) return make_reply(answer::value, *length);
  }
  return make_reply(answer::bad, 0, line);
}

std::string set_line(std::string_view key, std::size_t length) {
  return "SET " + std::string(key) + ' ' + std::to_string(length) + '\n';
}
std::string get_line(std::string_view key) { return "GET " + std::string(key) + '\n'; }
std::string del_line(std::string_view key) { return "DEL " + std::string(key) + '\n'; }
std::string value_line(std::size_t length) { return "VALUE " + std::to_string(length) + '\n'; }
std::string error_line(std::string_view reason) { return "ERROR " + std::string(reason) + '\n'; }

}  // namespace kv
