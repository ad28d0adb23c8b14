// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/observe/log.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"

// O1, O4: logging with {fmt} through the STAKKER_LOG macros, and the text and JSON-lines
// sinks.

namespace {

using nlohmann::json;
using stakker::call;
using stakker::cx;
using stakker::log_level;
using stakker::make_actor;
using stakker::ret_nop;
using stakker::observe::fields;

int evaluated = 0;
int costly() {
  ++evaluated;
  return 7;
}

struct greeter {
  static greeter init(cx<greeter>&) { return {}; }
  void hello(cx<greeter>& x, std::string who) {
    STAKKER_LOG_INFO(x, fields("who", who, "len", who.size(), "ok", true), "hello, {}!", who);
    STAKKER_LOG_DEBUG(x, "costly: {}", costly());
  }
};

// Collects lines written to a temporary FILE*.
struct captured {
  std::FILE* f = std::tmpfile();
  ~captured() { std::fclose(f); }
  std::vector<std::string> lines() const {
    std::fflush(f);
    std::rewind(f);
    std::vector<std::string> out;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, f) != nullptr) {
      std::string s(buf);
      if (!s.empty() && s.back() == '\n') s.pop_back();
      out.push_back(s);
    }
    return out;
  }
};

}  // namespace

TEST(observe_log, the_macros_skip_their_arguments_when_the_level_is_filtered_out) {
  stakker::runtime rt;
  captured out;
  rt.set_logger(stakker::observe::json_lines_logger(out.f), log_level::info);
  auto g = make_actor<&greeter::init>(rt, ret_nop<stakker::stop_cause>());
  evaluated = 0;
  call<&greeter::hello>(g, std::string("ada"));
  rt.run(rt.now(), false);
  EXPECT_EQ(evaluated, 0);  // debug is below info
  rt.set_log_level(log_level::debug);
  call<&greeter::hello>(g, std::string("bob"));
  rt.run(rt.now(), false);
  EXPECT_EQ(evaluated, 1);
}

TEST(observe_log, json_lines_are_one_valid_object_per_record_with_typed_fields) {
  stakker::runtime rt;
  captured out;
  rt.set_logger(stakker::observe::json_lines_logger(out.f), log_level::debug);
  auto g = make_actor<&greeter::init>(rt, ret_nop<stakker::stop_cause>());
  call<&greeter::hello>(g, std::string("a \"quoted\"\nname\x01"));
  rt.run(rt.now(), false);
  const auto lines = out.lines();
  ASSERT_EQ(lines.size(), 3u);  // started, hello, costly
  const json started = json::parse(lines[0]);
  EXPECT_EQ(started["kind"], "audit");
  EXPECT_EQ(started["message"], "started");
  const json hello = json::parse(lines[1]);
  EXPECT_EQ(hello["level"], "info");
  EXPECT_EQ(hello["kind"], "message");
  EXPECT_EQ(hello["runtime"], rt.id());
  EXPECT_EQ(hello["actor"], g.id());
  EXPECT_EQ(hello["type"], "{anonymous}::greeter");
  EXPECT_EQ(hello["message"], "hello, a \"quoted\"\nname\x01!");
  EXPECT_EQ(hello["fields"]["who"], "a \"quoted\"\nname\x01");
  EXPECT_EQ(hello["fields"]["len"], 16);  // a number, unquoted
  EXPECT_EQ(hello["fields"]["ok"], true);
  EXPECT_EQ(hello["time_ns"], rt.now().time_since_epoch().count());
  EXPECT_EQ(json::parse(lines[2])["message"], "costly: 7");
}

TEST(observe_log, text_lines_show_level_runtime_actor_message_and_fields) {
  stakker::runtime rt;
  captured out;
  rt.set_logger(stakker::observe::text_logger(out.f), log_level::info);
  auto g = make_actor<&greeter::init>(rt, ret_nop<stakker::stop_cause>());
  call<&greeter::hello>(g, std::string("ada lovelace"));
  rt.run(rt.now(), false);
  g.reset();
  rt.run(rt.now(), false);
  const auto lines = out.lines();
  ASSERT_EQ(lines.size(), 3u);
  const std::string prefix = "rt" + std::to_string(rt.id()) + " #" + std::to_string(g.id());
  EXPECT_NE(lines[0].find("INFO  rt"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(": [audit] started"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("{anonymous}::greeter: hello, ada lovelace!"), std::string::npos)
      << lines[1];
  EXPECT_NE(lines[1].find(" who=\"ada lovelace\" len=12 ok=true"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("[audit] stopped cause=dropped"), std::string::npos) << lines[2];
}

TEST(observe_log, a_record_may_be_logged_from_a_core_outside_any_actor) {
  stakker::runtime rt;
  std::vector<std::string> messages;
  rt.set_logger([&](const stakker::log_record& r) { messages.emplace_back(r.message); },
                log_level::trace);
  STAKKER_LOG_TRACE(rt, "{} + {} = {}", 1, 2, 3);
  STAKKER_LOG_ERROR(rt, fields("code", 42), "failed");
  EXPECT_EQ(messages, (std::vector<std::string>{"1 + 2 = 3", "failed"}));
}
