// SPDX-License-Identifier: MIT OR Apache-2.0
// Built by the find_package consumer when the install has stakker::observe: its headers and
// {fmt}'s (and spdlog's, with the adapter) must be found through the package alone. A
// record written with STAKKER_LOG must reach the logger, formatted.
#include <stakker/observe/log.hpp>
#include <stakker/observe/trace_json.hpp>
#include <stakker/stakker.hpp>
#if STAKKER_CONSUMER_SPDLOG
#include <spdlog/logger.h>
#include <stakker/spdlog/logger.hpp>
#endif

#include <memory>
#include <string>

int main() {
  stakker::runtime rt;
  std::string seen;
  rt.set_logger([&](const stakker::log_record& r) { seen = stakker::observe::format_json(r); },
                stakker::log_level::info);
  STAKKER_LOG_INFO(rt, "{} + {}", 1, 2);
  rt.trace_start(16);
  const stakker::trace_snapshot s = rt.trace_read();
  const std::string json = stakker::observe::trace_json({&s, 1});
#if STAKKER_CONSUMER_SPDLOG
  const stakker::logger to_spdlog =
      stakker::spdlog_adapter::to_spdlog(std::make_shared<spdlog::logger>("consumer"));
  if (!to_spdlog) return 1;
#endif
  return seen.find("\"message\":\"1 + 2\"") != std::string::npos &&
                 json.find("traceEvents") != std::string::npos
             ? 0
             : 1;
}
