// SPDX-License-Identifier: MIT OR Apache-2.0
// The rule for exceptions from a spawn's answer: the ret's callback runs from the task's last
// step, which cannot throw; its exception leaves the current run() like an exception from a
// plain closure (never std::terminate), and the runtime goes on.
#include "stakker/coro/spawn.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::ret;
using stakker::ret_do;
using stakker::runtime;
using stakker::coro::result;
using stakker::coro::spawn;
using stakker::coro::spawn_result;
using stakker::coro::task;
using stakker::testing::counted;
using stakker::testing::counts;

using coro_test::run;

task<int> value(int v) { co_return v; }
task<int> never_done(core& c, std::vector<int>& log) {
  log.push_back(0);
  co_await stakker::coro::sleep_for(c, std::chrono::hours(1));
  co_return 1;
}

TEST(spawn_answer, an_exception_from_a_spawns_ret_do_leaves_run_like_a_plain_closures) {
  runtime rt;
  int later = 0;
  spawn(rt, value(1), ret_do<int>([](std::optional<int>) { throw std::runtime_error("answer"); }));
  rt.defer([&later](core&) { ++later; });
  EXPECT_THROW(run(rt), std::runtime_error);
  run(rt);  // the rest of the queue runs on the next run
  EXPECT_EQ(later, 1);
}

TEST(spawn_answer, an_exception_from_a_spawn_results_ret_do_leaves_run_and_the_frame_is_freed) {
  counts k;
  {
    runtime rt;
    auto t = [](counted c) -> task<int> { co_return c.value(); }(counted(k, 3));
    spawn_result(rt, std::move(t), ret_do<result<int>>([](std::optional<result<int>> r) {
                   if (r && r->has_value()) throw std::runtime_error("got it");
                 }));
    EXPECT_THROW(run(rt), std::runtime_error);
    EXPECT_EQ(k.alive(), 0);  // the task's frame went before the answer
  }
  EXPECT_TRUE(k.balanced());
}

TEST(spawn_answer, an_exception_from_a_spawns_none_answer_in_teardown_is_reported_not_fatal) {
  std::vector<int> log;
  testing::internal::CaptureStderr();
  {
    runtime rt;
    spawn(rt, never_done(rt, log),
          ret_do<int>([](std::optional<int>) { throw std::runtime_error("none in teardown"); }));
    run(rt);
  }  // the task is dropped with the runtime: its ret answers none and throws, outside any run
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(log, std::vector<int>{0});
  EXPECT_NE(err.find("none in teardown"), std::string::npos) << err;
}

}  // namespace
