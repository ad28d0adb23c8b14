// SPDX-License-Identifier: MIT OR Apache-2.0
// Records below STAKKER_LOG_MIN_LEVEL are compiled out: this file is built with the minimum
// at warn (3), the rest of the tests with the default (trace).
#define STAKKER_LOG_MIN_LEVEL 3
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stakker/observe/log.hpp"
#include "stakker/runtime.hpp"

namespace {
int evaluated = 0;
int counted() { return ++evaluated; }
}  // namespace

TEST(observe_log_min_level, records_below_the_compiled_minimum_are_never_written_nor_evaluated) {
  stakker::runtime rt;
  std::vector<std::string> seen;
  rt.set_logger([&](const stakker::log_record& r) { seen.emplace_back(r.message); },
                stakker::log_level::trace);  // the runtime would let everything through
  STAKKER_LOG_TRACE(rt, "trace {}", counted());
  STAKKER_LOG_DEBUG(rt, "debug {}", counted());
  STAKKER_LOG_INFO(rt, "info {}", counted());
  STAKKER_LOG_WARN(rt, "warn {}", counted());
  STAKKER_LOG_ERROR(rt, "error {}", counted());
  EXPECT_EQ(evaluated, 2);
  EXPECT_EQ(seen, (std::vector<std::string>{"warn 1", "error 2"}));
  // The core's own log() is not affected: the minimum is the macros'.
  rt.log(stakker::log_level::debug, "direct");
  EXPECT_EQ(seen.back(), "direct");
}
