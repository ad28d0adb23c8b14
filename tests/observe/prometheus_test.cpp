// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/observe/prometheus.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using stakker::actor_type_metrics;
using stakker::runtime_metrics;
using stakker::observe::prometheus_escape_label;
using stakker::observe::prometheus_text;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

runtime_metrics sample(std::uint32_t id) {
  runtime_metrics m;
  m.runtime = id;
  m.actors_created = 7;
  m.actors_alive = 3;
  m.actors_failed = 1;
  m.timers_pending = 2;
  m.calls_queued = 100;
  m.calls_run = 99;
  m.queue_depth = 1;
  m.queue_depth_max = 40;
  m.wakes = 5;
  m.loop_wakeups = 12;
  m.busy = 1500ms;
  m.idle = 250us;
  m.types.push_back(actor_type_metrics{"counter", 4, 2, 0});
  m.types.push_back(actor_type_metrics{"odd \"name\"\\with\nnewline", 1, 1, 1});
  return m;
}

TEST(prometheus_text, writes_one_help_and_type_per_family_and_a_sample_per_runtime) {
  const std::vector<runtime_metrics> rts{sample(0), sample(1)};
  const std::string text = prometheus_text(rts);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::map<std::string, int> helps, types;
  std::map<std::string, std::string> type_of;
  for (const std::string& line : lines(text)) {
    if (line.starts_with("# HELP ")) {
      ++helps[line.substr(7, line.find(' ', 7) - 7)];
    } else if (line.starts_with("# TYPE ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      ++types[name];
      type_of[name] = line.substr(line.rfind(' ') + 1);
    }
  }
  const std::vector<std::string> counters = {"stakker_actors_created_total",
                                             "stakker_actors_failed_total",
                                             "stakker_calls_queued_total",
                                             "stakker_calls_run_total",
                                             "stakker_wakes_total",
                                             "stakker_cross_thread_items_total",
                                             "stakker_loop_wakeups_total",
                                             "stakker_busy_seconds_total",
                                             "stakker_idle_seconds_total",
                                             "stakker_actor_type_created_total",
                                             "stakker_actor_type_stopped_total",
                                             "stakker_actor_type_failed_total"};
  const std::vector<std::string> gauges = {"stakker_actors_alive", "stakker_timers_pending",
                                           "stakker_queue_depth", "stakker_queue_depth_max"};
  for (const auto& n : counters) {
    EXPECT_EQ(helps[n], 1) << n;
    EXPECT_EQ(types[n], 1) << n;
    EXPECT_EQ(type_of[n], "counter") << n;
  }
  for (const auto& n : gauges) {
    EXPECT_EQ(helps[n], 1) << n;
    EXPECT_EQ(type_of[n], "gauge") << n;
  }
  EXPECT_EQ(helps.size(), counters.size() + gauges.size());
  EXPECT_NE(text.find("stakker_calls_run_total{runtime=\"0\"} 99\n"), std::string::npos);
  EXPECT_NE(text.find("stakker_calls_run_total{runtime=\"1\"} 99\n"), std::string::npos);
  EXPECT_NE(text.find("stakker_queue_depth_max{runtime=\"1\"} 40\n"), std::string::npos);
  EXPECT_NE(text.find("stakker_actor_type_created_total{runtime=\"0\",type=\"counter\"} 4\n"),
            std::string::npos);
}

TEST(prometheus_text, writes_durations_as_floating_point_seconds) {
  const std::vector<runtime_metrics> rts{sample(3)};
  const std::string text = prometheus_text(rts);
  EXPECT_NE(text.find("stakker_busy_seconds_total{runtime=\"3\"} 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("stakker_idle_seconds_total{runtime=\"3\"} 0.00025\n"), std::string::npos)
      << text;
}

TEST(prometheus_text, escapes_backslash_quote_and_newline_in_label_values) {
  EXPECT_EQ(prometheus_escape_label("plain"), "plain");
  EXPECT_EQ(prometheus_escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  const std::vector<runtime_metrics> rts{sample(0)};
  const std::string text = prometheus_text(rts);
  EXPECT_NE(text.find("stakker_actor_type_failed_total{runtime=\"0\",type=\"odd "
                      "\\\"name\\\"\\\\with\\nnewline\"} 1\n"),
            std::string::npos)
      << text;
  // Every line is a comment or a sample: the newline did not split one.
  for (const std::string& line : lines(text))
    EXPECT_TRUE(line.starts_with("# ") || line.starts_with("stakker_")) << line;
}

TEST(prometheus_text, writes_only_the_headers_for_no_runtimes) {
  const std::string text = prometheus_text({});
  for (const std::string& line : lines(text)) EXPECT_TRUE(line.starts_with("# ")) << line;
}

}  // namespace
