// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/log.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/virtual_loop.hpp"

// O1: every actor has a stable id, carried by log records, also those of its tasks.
// O2: audit records for an actor's start, stop (with its cause) and failure.

namespace {

using stakker::actor_own;
using stakker::call;
using stakker::cx;
using stakker::log_field;
using stakker::log_kind;
using stakker::log_level;
using stakker::log_record;
using stakker::make_actor;
using stakker::ret_nop;
using stakker::runtime;

void run(runtime& rt) { rt.run(rt.now(), false); }

// A record copied out of the logger (whose views die with the call).
struct kept {
  log_level level;
  log_kind kind;
  std::uint32_t runtime;
  std::uint64_t actor;
  std::string type;
  std::string message;
  std::vector<std::pair<std::string, std::string>> fields;

  std::string field(const std::string& k) const {
    for (auto& [key, value] : fields)
      if (key == k) return value;
    return "<none>";
  }
};

struct log_sink {
  std::vector<kept> records;
  stakker::logger logger() {
    return [this](const log_record& r) {
      kept k{r.level, r.kind, r.runtime, r.actor, std::string(r.actor_type), std::string(r.message),
             {}};
      for (const log_field& f : r.fields) k.fields.emplace_back(f.key, f.value);
      records.push_back(std::move(k));
    };
  }
  std::vector<kept> audits_of(std::uint64_t actor) const {
    std::vector<kept> out;
    for (auto& r : records)
      if (r.kind == log_kind::audit && r.actor == actor) out.push_back(r);
    return out;
  }
};

struct worker {
  int n = 0;
  static worker init(cx<worker>&) { return {}; }
  void add(cx<worker>& x, int k) {
    n += k;
    x.log(log_level::info, "added", {{"k", std::to_string(k), false}});
  }
  void stop(cx<worker>& x) { x.stop(); }
  void fail(cx<worker>& x) { x.fail("out of paper"); }
  void raise(cx<worker>&) { throw std::runtime_error("jammed"); }
  void spawn_logger(cx<worker>& x) {
    stakker::coro::spawn(
        x,
        [](stakker::core& c) -> stakker::coro::task<void> {
          c.log(log_level::info, "before the sleep");
          co_await stakker::coro::sleep_for(c, std::chrono::milliseconds(5));
          c.log(log_level::info, "after the sleep");
        }(x.core()),
        ret_nop<void>());
  }
};

}  // namespace

TEST(log, every_actor_has_an_id_unique_in_its_runtime_and_stable_for_its_life) {
  runtime rt;
  std::vector<actor_own<worker>> actors;
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 1000; ++i) {
    actors.push_back(make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>()));
    ids.insert(actors.back().id());
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), 1000u);
  const std::uint64_t prep_id = actors[7].id();
  stakker::actor<worker> ref = actors[7];
  run(rt);  // Prep to Ready
  EXPECT_TRUE(actors[7].is_ready());
  EXPECT_EQ(actors[7].id(), prep_id);
  EXPECT_EQ(ref.id(), prep_id);
  call<&worker::stop>(actors[7]);
  run(rt);  // Ready to Zombie
  EXPECT_TRUE(ref.is_zombie());
  EXPECT_EQ(ref.id(), prep_id);
  EXPECT_EQ(stakker::actor<worker>().id(), 0u);
}

TEST(log, runtimes_have_ids_unique_in_the_process) {
  runtime a;
  runtime b;
  auto c = std::make_unique<runtime>();
  EXPECT_NE(a.id(), 0u);
  EXPECT_NE(a.id(), b.id());
  EXPECT_NE(b.id(), c->id());
  EXPECT_NE(a.id(), c->id());
}

TEST(log, an_actor_handle_names_its_state_type) {
  runtime rt;
  auto a = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  EXPECT_EQ(a.type_name(), "{anonymous}::worker");
}

TEST(log, a_record_from_an_actor_carries_its_id_type_and_fields) {
  runtime rt;
  log_sink sink;
  rt.set_logger(sink.logger(), log_level::info);
  auto a = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  call<&worker::add>(a, 41);
  run(rt);
  ASSERT_EQ(sink.records.size(), 2u);  // started, then the message
  const kept& r = sink.records[1];
  EXPECT_EQ(r.kind, log_kind::message);
  EXPECT_EQ(r.level, log_level::info);
  EXPECT_EQ(r.runtime, rt.id());
  EXPECT_EQ(r.actor, a.id());
  EXPECT_EQ(r.type, a.type_name());
  EXPECT_EQ(r.message, "added");
  EXPECT_EQ(r.field("k"), "41");
  // Outside any actor call: no actor.
  rt.log(log_level::warn, "plain");
  EXPECT_EQ(sink.records.back().actor, 0u);
  EXPECT_EQ(sink.records.back().type, "");
}

TEST(log, records_below_the_runtime_level_are_filtered_out) {
  runtime rt;
  EXPECT_EQ(rt.get_log_level(), log_level::off);  // no logger: nothing is enabled
  EXPECT_FALSE(rt.log_enabled(log_level::error));
  rt.set_log_level(log_level::trace);  // still off without a logger
  EXPECT_FALSE(rt.log_enabled(log_level::error));
  log_sink sink;
  rt.set_logger(sink.logger(), log_level::warn);
  EXPECT_FALSE(rt.log_enabled(log_level::info));
  EXPECT_TRUE(rt.log_enabled(log_level::warn));
  rt.log(log_level::info, "dropped");
  rt.log(log_level::error, "kept");
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].message, "kept");
  rt.set_log_level(log_level::trace);
  rt.log(log_level::trace, "now kept");
  EXPECT_EQ(sink.records.size(), 2u);
  rt.set_logger(nullptr);
  EXPECT_EQ(rt.get_log_level(), log_level::off);
  rt.log(log_level::error, "nobody listens");
  EXPECT_EQ(sink.records.size(), 2u);
}

TEST(log, audit_records_are_written_for_every_stop_cause) {
  runtime rt;
  log_sink sink;
  rt.set_logger(sink.logger(), log_level::info);
  auto stopped = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  auto failed = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  auto raised = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  auto killed = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  auto dropped = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  run(rt);
  call<&worker::stop>(stopped);
  call<&worker::fail>(failed);
  call<&worker::raise>(raised);
  killed.kill("unplugged");
  const std::uint64_t dropped_id = dropped.id();
  dropped.reset();
  run(rt);

  auto check = [&](const actor_own<worker>& a, std::uint64_t id, const char* cause,
                   const char* error, log_level level) {
    SCOPED_TRACE(cause);
    const auto audits = sink.audits_of(id);
    ASSERT_EQ(audits.size(), 2u);
    EXPECT_EQ(audits[0].message, "started");
    EXPECT_EQ(audits[0].level, log_level::info);
    EXPECT_EQ(audits[1].message, "stopped");
    EXPECT_EQ(audits[1].level, level);
    EXPECT_EQ(audits[1].field("cause"), cause);
    EXPECT_EQ(audits[1].field("error"), error);
    EXPECT_EQ(audits[1].type, "{anonymous}::worker");
    if (a) {
      EXPECT_EQ(a.id(), id);
    }
  };
  check(stopped, stopped.id(), "stopped", "<none>", log_level::info);
  check(failed, failed.id(), "failed", "out of paper", log_level::warn);
  check(raised, raised.id(), "failed", "jammed", log_level::warn);
  check(killed, killed.id(), "killed", "unplugged", log_level::warn);
  check(dropped, dropped_id, "dropped", "<none>", log_level::info);
}

TEST(log, at_warn_only_the_stops_with_an_error_are_audited) {
  runtime rt;
  log_sink sink;
  rt.set_logger(sink.logger(), log_level::warn);
  auto ok = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  auto bad = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  run(rt);
  call<&worker::stop>(ok);
  call<&worker::raise>(bad);
  run(rt);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].actor, bad.id());
  EXPECT_EQ(sink.records[0].field("cause"), "failed");
}

TEST(log, a_record_from_inside_a_task_carries_the_owning_actors_id) {
  stakker::testing::virtual_loop loop;
  log_sink sink;
  loop.rt().set_logger(sink.logger(), log_level::info);
  auto a = make_actor<&worker::init>(loop.rt(), ret_nop<stakker::stop_cause>());
  call<&worker::spawn_logger>(a);
  loop.run();
  loop.advance(std::chrono::milliseconds(10));  // the task resumes from the timer's closure
  std::vector<kept> messages;
  for (auto& r : sink.records)
    if (r.kind == log_kind::message) messages.push_back(r);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].message, "before the sleep");
  EXPECT_EQ(messages[1].message, "after the sleep");
  for (auto& m : messages) {
    EXPECT_EQ(m.actor, a.id());
    EXPECT_EQ(m.type, "{anonymous}::worker");
  }
}

TEST(log, call_audit_names_each_delivered_member) {
  runtime rt;
  log_sink sink;
  rt.set_logger(sink.logger(), log_level::trace);
  rt.set_audit_calls(true);
  auto a = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  call<&worker::add>(a, 1);
  run(rt);
  std::vector<std::string> members;
  for (auto& r : sink.records)
    if (r.kind == log_kind::audit && r.message == "call") members.push_back(r.field("member"));
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0], "{anonymous}::worker::init");
  EXPECT_EQ(members[1], "{anonymous}::worker::add");
  rt.set_audit_calls(false);
  call<&worker::add>(a, 1);
  const std::size_t before = sink.records.size();
  run(rt);
  EXPECT_EQ(sink.records.size(), before + 1);  // the message only
}

TEST(log, a_logger_that_throws_loses_only_that_record) {
  runtime rt;
  int calls = 0;
  rt.set_logger(
      [&](const log_record& r) {
        ++calls;
        if (r.message == "bad") throw std::runtime_error("sink full");
      },
      log_level::info);
  rt.log(log_level::info, "bad");
  rt.log(log_level::info, "good");
  EXPECT_EQ(calls, 2);
}

TEST(log, a_record_logged_by_the_logger_itself_is_dropped) {
  runtime rt;
  std::vector<std::string> seen;
  rt.set_logger(
      [&](const log_record& r) {
        seen.emplace_back(r.message);
        rt.log(log_level::error, "nested");
      },
      log_level::info);
  rt.log(log_level::info, "outer");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "outer");
}

TEST(log, a_logger_may_replace_or_remove_itself_while_it_runs) {
  runtime rt;
  std::vector<std::string> first, second;
  // The first logger holds state (a string) that dies with it: under ASan, destroying it
  // while it runs would be a use after free.
  auto tag = std::make_shared<std::string>("first");
  rt.set_logger(
      [&, tag](const log_record& r) {
        first.push_back(*tag + ":" + std::string(r.message));
        rt.set_logger([&](const log_record& s) { second.emplace_back(s.message); },
                      log_level::info);
        first.push_back(*tag + ":after");
      },
      log_level::info);
  tag.reset();
  rt.log(log_level::info, "one");
  rt.log(log_level::info, "two");
  EXPECT_EQ(first, (std::vector<std::string>{"first:one", "first:after"}));
  EXPECT_EQ(second, (std::vector<std::string>{"two"}));
  rt.set_logger([&](const log_record&) { rt.set_logger(nullptr); }, log_level::info);
  rt.log(log_level::info, "three");
  EXPECT_EQ(rt.get_log_level(), log_level::off);
  rt.log(log_level::info, "four");  // nobody: no crash
}

TEST(log, a_logger_may_drop_the_actor_whose_start_it_reports) {
  runtime rt;
  actor_own<worker> a;
  int stops = 0;
  rt.set_logger(
      [&](const log_record& r) {
        if (r.message == "started") a.reset();  // the last owner: the stop is queued
        if (r.message == "stopped") ++stops;
      },
      log_level::info);
  a = make_actor<&worker::init>(rt, ret_nop<stakker::stop_cause>());
  call<&worker::add>(a, 1);
  run(rt);
  EXPECT_EQ(stops, 1);
  EXPECT_FALSE(a);
}
