// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/spdlog/logger.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"

// The spdlog adapter: records reach an spdlog logger with their level and actor.

namespace {

struct unit {
  static unit init(stakker::cx<unit>&) { return {}; }
  void speak(stakker::cx<unit>& x) {
    x.log(stakker::log_level::warn, "careful", {{"depth", "3", false}});
  }
  void crash(stakker::cx<unit>&) { throw std::runtime_error("boom"); }
};

}  // namespace

TEST(spdlog_adapter, records_reach_the_spdlog_logger_with_level_actor_and_fields) {
  std::ostringstream text;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(text);
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->set_pattern("%l|%v");
  logger->set_level(spdlog::level::trace);

  stakker::runtime rt;
  rt.set_logger(stakker::spdlog_adapter::to_spdlog(logger), stakker::log_level::info);
  auto u = stakker::make_actor<&unit::init>(rt, stakker::ret_nop<stakker::stop_cause>());
  stakker::call<&unit::speak>(u);
  stakker::call<&unit::crash>(u);
  rt.run(rt.now(), false);
  const std::string id = "rt" + std::to_string(rt.id()) + " #" + std::to_string(u.id());
  EXPECT_EQ(text.str(), "info|" + id + " {anonymous}::unit: [audit] started\n" +         //
                            "warning|" + id + " {anonymous}::unit: careful depth=3\n" +  //
                            "warning|" + id +
                            " {anonymous}::unit: [audit] stopped cause=failed error=boom\n");
}

TEST(spdlog_adapter, the_spdlog_loggers_own_level_also_filters) {
  std::ostringstream text;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(text);
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::err);
  stakker::runtime rt;
  rt.set_logger(stakker::spdlog_adapter::to_spdlog(logger), stakker::log_level::trace);
  rt.log(stakker::log_level::warn, "hidden");
  rt.log(stakker::log_level::error, "shown");
  EXPECT_EQ(text.str(), "rt" + std::to_string(rt.id()) + ": shown\n");
}
