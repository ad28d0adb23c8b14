// SPDX-License-Identifier: MIT OR Apache-2.0
#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <iterator>
#include <string>

#include "json_text.hpp"
#include "stakker/observe/log.hpp"

namespace stakker::observe {

namespace {

std::string_view upper(log_level l) noexcept {
  switch (l) {
    case log_level::trace:
      return "TRACE";
    case log_level::debug:
      return "DEBUG";
    case log_level::info:
      return "INFO ";
    case log_level::warn:
      return "WARN ";
    case log_level::error:
      return "ERROR";
    case log_level::off:
      return "OFF  ";
  }
  return "?    ";
}

// A field value written unquoted must be a JSON number or literal; anything else is quoted.
bool json_literal(std::string_view v) noexcept {
  if (v == "true" || v == "false") return true;
  if (v.empty()) return false;
  std::size_t i = v.front() == '-' ? 1 : 0;
  if (i == v.size()) return false;
  bool digits = false;
  for (; i < v.size(); ++i) {
    const char c = v[i];
    if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      digits = true;
    } else if (c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
      return false;
    }
  }
  return digits && v != "-";
}

double seconds(instant t) noexcept {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

logger line_logger(std::FILE* out, std::string (*format)(const log_record&)) {
  return [out, format](const log_record& r) {
    std::string line = format(r);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out);
    std::fflush(out);
  };
}

}  // namespace

std::string format_text(const log_record& r) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{:12.6f} {} rt{}", seconds(r.time), upper(r.level), r.runtime);
  if (r.actor != 0) fmt::format_to(it, " #{} {}", r.actor, r.actor_type);
  fmt::format_to(it, "{} {}", r.kind == log_kind::audit ? ": [audit]" : ":", r.message);
  for (const log_field& f : r.fields) {
    if (f.quoted && f.value.find_first_of(" \t\n\"=") != std::string_view::npos)
      fmt::format_to(it, " {}={:?}", f.key, f.value);
    else
      fmt::format_to(it, " {}={}", f.key, f.value);
  }
  return fmt::to_string(out);
}

std::string format_json(const log_record& r) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{{\"time_ns\":{},\"level\":\"{}\",\"kind\":\"{}\",\"runtime\":{}",
                 r.time.time_since_epoch().count(), to_string(r.level),
                 r.kind == log_kind::audit ? "audit" : "message", r.runtime);
  if (r.actor != 0) {
    fmt::format_to(it, ",\"actor\":{},\"type\":", r.actor);
    detail::append_json_string(out, r.actor_type);
  }
  fmt::format_to(it, ",\"message\":");
  detail::append_json_string(out, r.message);
  if (!r.fields.empty()) {
    fmt::format_to(it, ",\"fields\":{{");
    bool first = true;
    for (const log_field& f : r.fields) {
      if (!first) out.push_back(',');
      first = false;
      detail::append_json_string(out, f.key);
      out.push_back(':');
      if (!f.quoted && json_literal(f.value))
        fmt::format_to(it, "{}", f.value);
      else
        detail::append_json_string(out, f.value);
    }
    out.push_back('}');
  }
  out.push_back('}');
  return fmt::to_string(out);
}

logger text_logger(std::FILE* out) { return line_logger(out, &format_text); }
logger json_lines_logger(std::FILE* out) { return line_logger(out, &format_json); }

}  // namespace stakker::observe
