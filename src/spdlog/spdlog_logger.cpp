// SPDX-License-Identifier: MIT OR Apache-2.0
#include <fmt/format.h>

#include <iterator>
#include <utility>

#include "stakker/spdlog/logger.hpp"

namespace stakker::spdlog_adapter {

namespace {
spdlog::level::level_enum level_of(log_level l) noexcept {
  switch (l) {
    case log_level::trace:
      return spdlog::level::trace;
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
    case log_level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}
}  // namespace

logger to_spdlog(std::shared_ptr<spdlog::logger> to) {
  return [to = std::move(to)](const log_record& r) {
    const auto level = level_of(r.level);
    if (!to->should_log(level)) return;
    fmt::memory_buffer text;
    auto it = std::back_inserter(text);
    fmt::format_to(it, "rt{}", r.runtime);
    if (r.actor != 0) fmt::format_to(it, " #{} {}", r.actor, r.actor_type);
    fmt::format_to(it, ": {}{}", r.kind == log_kind::audit ? "[audit] " : "", r.message);
    for (const log_field& f : r.fields) fmt::format_to(it, " {}={}", f.key, f.value);
    to->log(level, "{}", std::string_view(text.data(), text.size()));
  };
}

}  // namespace stakker::spdlog_adapter
