// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/observe/trace_json.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "core/trace_scenario.hpp"
#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/virtual_loop.hpp"

// O4: a trace exported as Trace Event JSON (Perfetto, chrome://tracing), checked event by
// event after parsing it back.

namespace {

using nlohmann::json;
using stakker::call;
using stakker::cx;
using stakker::make_actor;
using stakker::ret_nop;

std::vector<json> of_phase(const json& doc, const std::string& ph) {
  std::vector<json> out;
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == ph) out.push_back(e);
  return out;
}

}  // namespace

TEST(trace_json, a_known_scenario_exports_slices_flows_instants_and_track_names) {
  stakker::testing::virtual_loop loop;
  stakker::runtime& rt = loop.rt();
  auto b = make_actor<&pong::init>(rt, ret_nop<stakker::stop_cause>());
  auto a = make_actor<&ping::init>(rt, ret_nop<stakker::stop_cause>(), b.ref());
  loop.run();
  rt.trace_start(64);
  call<&ping::start>(a);
  loop.run();
  loop.advance(std::chrono::milliseconds(2));
  const stakker::trace_snapshot s = rt.trace_read();
  const json doc = json::parse(stakker::observe::trace_json({&s, 1}));

  EXPECT_EQ(doc["displayTimeUnit"], "ns");
  EXPECT_EQ(doc["otherData"]["runtimes"][0]["runtime"], rt.id());
  EXPECT_EQ(doc["otherData"]["runtimes"][0]["recorded"], s.recorded);

  const auto slices = of_phase(doc, "X");
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[0]["name"], "{anonymous}::ping::start");
  EXPECT_EQ(slices[0]["tid"], a.id());
  EXPECT_EQ(slices[1]["name"], "{anonymous}::pong::ask");
  EXPECT_EQ(slices[1]["tid"], b.id());
  EXPECT_EQ(slices[2]["name"], "{anonymous}::ping::answer");
  for (const json& x : slices) {
    EXPECT_EQ(x["pid"], rt.id());
    EXPECT_EQ(x["cat"], "call");
    EXPECT_GE(x["dur"].get<double>(), 0.0);
  }
  // Three calls queued and run: three flows. The one from outside starts on the runtime's
  // track (tid 0); ask's flow goes from ping to pong; the answer's (the ret) from pong back.
  const auto starts = of_phase(doc, "s");
  const auto ends = of_phase(doc, "f");
  ASSERT_EQ(starts.size(), 3u);
  ASSERT_EQ(ends.size(), 3u);
  std::map<std::uint64_t, std::pair<json, json>> flows;
  for (const json& e : starts) flows[e["id"]].first = e;
  for (const json& e : ends) flows[e["id"]].second = e;
  ASSERT_EQ(flows.size(), 3u);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> hops;
  for (auto& [id, f] : flows) {
    EXPECT_LE(f.first["ts"].get<double>(), f.second["ts"].get<double>());
    EXPECT_EQ(f.second["bp"], "e");
    hops.emplace_back(f.first["tid"], f.second["tid"]);
  }
  EXPECT_EQ(hops, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{
                      {0, a.id()}, {a.id(), b.id()}, {b.id(), a.id()}}));
  // The ret's answer leaves from inside pong::ask's slice.
  const double ask_ts = slices[1]["ts"], ask_end = ask_ts + slices[1]["dur"].get<double>();
  const double answer_from = flows.rbegin()->second.first["ts"];
  EXPECT_GE(answer_from, ask_ts);
  EXPECT_LE(answer_from, ask_end);

  const auto instants = of_phase(doc, "i");
  ASSERT_EQ(instants.size(), 2u);
  EXPECT_EQ(instants[0]["name"], "timer set");
  EXPECT_EQ(instants[0]["tid"], a.id());
  EXPECT_EQ(instants[0]["args"]["due_in_ns"], 1'000'000);
  EXPECT_EQ(instants[1]["name"], "timers due");
  EXPECT_EQ(instants[1]["tid"], 0);
  EXPECT_EQ(instants[1]["args"]["count"], 1);

  std::map<std::uint64_t, std::string> names;
  for (const json& m : of_phase(doc, "M"))
    if (m["name"] == "thread_name") names[m["tid"]] = m["args"]["name"];
  EXPECT_EQ(names[0], "runtime (loop, closures, timers)");
  EXPECT_EQ(names[a.id()], "{anonymous}::ping #" + std::to_string(a.id()));
  EXPECT_EQ(names[b.id()], "{anonymous}::pong #" + std::to_string(b.id()));
}

TEST(trace_json, several_runtimes_line_up_on_one_timeline) {
  stakker::runtime r1;
  auto a = make_actor<&pong::init>(r1, ret_nop<stakker::stop_cause>());
  r1.trace_start(16);
  r1.run(r1.now(), false);
  stakker::runtime r2;
  auto b = make_actor<&pong::init>(r2, ret_nop<stakker::stop_cause>());
  r2.trace_start(16);
  r2.run(r2.now(), false);
  const stakker::trace_snapshot s[] = {r1.trace_read(), r2.trace_read()};
  ASSERT_LE(s[0].started_ns, s[1].started_ns);
  const json doc = json::parse(stakker::observe::trace_json(s));
  const auto slices = of_phase(doc, "X");
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(slices[0]["pid"], r1.id());
  EXPECT_EQ(slices[1]["pid"], r2.id());
  // Times count from the earlier trace's start: the second runtime's init comes later.
  EXPECT_LE(slices[0]["ts"].get<double>(), slices[1]["ts"].get<double>());
  std::vector<std::string> processes;
  for (const json& m : of_phase(doc, "M"))
    if (m["name"] == "process_name") processes.push_back(m["args"]["name"]);
  EXPECT_EQ(processes, (std::vector<std::string>{"runtime " + std::to_string(r1.id()),
                                                 "runtime " + std::to_string(r2.id())}));
}

TEST(trace_json, a_wrapped_trace_still_exports_valid_json) {
  stakker::runtime rt;
  auto b = make_actor<&pong::init>(rt, ret_nop<stakker::stop_cause>());
  auto a = make_actor<&ping::init>(rt, ret_nop<stakker::stop_cause>(), b.ref());
  rt.run(rt.now(), false);
  rt.trace_start(16);
  for (int i = 0; i < 100; ++i) call<&ping::start>(a);
  rt.run(rt.now(), false);
  const auto s = rt.trace_read();
  EXPECT_GT(s.overwritten, 0u);
  const json doc = json::parse(stakker::observe::trace_json({&s, 1}));
  EXPECT_EQ(doc["otherData"]["runtimes"][0]["overwritten"], s.overwritten);
  // Flows only where both ends survived: every "f" has its "s".
  std::map<std::uint64_t, int> ends;
  for (const json& e : doc["traceEvents"]) {
    if (e["ph"] == "s") ends[e["id"]] += 1;
    if (e["ph"] == "f") ends[e["id"]] += 2;
  }
  for (auto& [id, n] : ends) EXPECT_EQ(n, 3) << id;
}

TEST(trace_json, writing_to_a_path_that_cannot_be_opened_throws_with_the_path) {
  const stakker::trace_snapshot s;
  try {
    stakker::observe::write_trace_json("/nonexistent-dir/trace.json", {&s, 1});
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/trace.json"), std::string::npos);
  }
  const auto path = std::filesystem::temp_directory_path() / "stakker_trace_json_test.json";
  stakker::observe::write_trace_json(path.string(), {&s, 1});
  std::ifstream in(path);
  const json doc = json::parse(in);
  EXPECT_TRUE(doc["traceEvents"].is_array());
  std::filesystem::remove(path);
}
