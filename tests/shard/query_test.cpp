// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/shard/query.hpp"

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <string>
#include <thread>

#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/cx.hpp"
#include "stakker/shard/shards.hpp"

namespace {

using stakker::actor_own;
using stakker::cx;
using stakker::ret;
using stakker::stop_cause;
using stakker::coro::result;
using stakker::coro::task;
using stakker::shard::context;
using stakker::shard::make_remote;
using stakker::shard::remote;
using stakker::shard::shards;

struct oracle {
  static std::optional<oracle> init(cx<oracle>&) { return oracle{}; }
  void square(cx<oracle>&, int v, ret<int> r) { r(v * v); }
  void refuse(cx<oracle>&, int, ret<int>) {}  // drops the ret: "none"
  void where(cx<oracle>&, ret<std::thread::id> r) { r(std::this_thread::get_id()); }
};

// Makes an oracle on shard 1 and returns a remote to it; keeps it in `keep`.
remote<oracle> make_oracle(shards& g, actor_own<oracle>& keep) {
  std::promise<remote<oracle>> made;
  g.on(1, [&](context& c) {
    keep = stakker::make_actor<&oracle::init>(c.core(), stakker::ret_nop<stop_cause>());
    made.set_value(make_remote(keep));
  });
  return made.get_future().get();
}

void finish(shards& g, actor_own<oracle>& keep) {
  g.on(1, [&](context&) { keep.reset(); });
  g.stop(stop_cause::stopped());
  g.join();
}

TEST(shard_query, a_task_awaits_the_answer_of_an_actor_on_another_shard_and_resumes_on_its_own) {
  shards g({.threads = 2});
  actor_own<oracle> keep;
  remote<oracle> o = make_oracle(g, keep);
  std::promise<std::string> out;
  g.on(0, [&, o](context& c) {
    auto t = [](remote<oracle> o2) -> task<std::string> {
      std::thread::id mine = std::this_thread::get_id();
      int v = co_await stakker::shard::query<&oracle::square>(o2, 7);
      std::thread::id there = co_await stakker::shard::query<&oracle::where>(o2);
      bool same_thread = std::this_thread::get_id() == mine;
      co_return std::to_string(v) + (there != mine ? " elsewhere" : " here") +
          (same_thread ? " resumed home" : " resumed away");
    };
    stakker::coro::spawn(c.core(), t(o),
                         stakker::ret_do<std::string>([&](std::optional<std::string> s) {
                           out.set_value(s.value_or("none"));
                         }));
  });
  EXPECT_EQ(out.get_future().get(), "49 elsewhere resumed home");
  finish(g, keep);
}

TEST(shard_query,
     a_dropped_ret_on_the_other_shard_drops_the_task_in_drop_mode_and_fails_in_result_mode) {
  shards g({.threads = 2});
  actor_own<oracle> keep;
  remote<oracle> o = make_oracle(g, keep);
  std::promise<std::string> drop_mode;
  std::promise<std::string> result_mode;
  g.on(0, [&, o](context& c) {
    auto dropped = [](remote<oracle> o2) -> task<int> {
      co_return co_await stakker::shard::query<&oracle::refuse>(o2, 1);
    };
    stakker::coro::spawn(c.core(), dropped(o), stakker::ret_do<int>([&](std::optional<int> v) {
                           drop_mode.set_value(v ? "value" : "none");
                         }));
    auto failed = [](remote<oracle> o2) -> task<std::string> {
      result<int> r = co_await stakker::shard::query_result<&oracle::refuse>(o2, 1);
      co_return r ? "value" : "actor_fail";
    };
    stakker::coro::spawn(c.core(), failed(o),
                         stakker::ret_do<std::string>([&](std::optional<std::string> s) {
                           result_mode.set_value(s.value_or("none"));
                         }));
  });
  EXPECT_EQ(drop_mode.get_future().get(), "none");
  EXPECT_EQ(result_mode.get_future().get(), "actor_fail");
  finish(g, keep);
}

TEST(shard_query, a_task_spawned_on_another_shard_answers_its_spawner_on_its_own_shard) {
  shards g({.threads = 2});
  std::promise<std::string> out;
  g.on(0, [&](context& c0) {
    auto answer = stakker::shard::make_remote(stakker::ret_do<int>([&](std::optional<int> v) {
      const bool home = context::current() == &c0;
      out.set_value(v ? std::to_string(*v) + (home ? " on 0" : " elsewhere") : "none");
    }));
    c0.group().on(1, [a = std::move(answer)](context& c1) mutable {
      auto t = []() -> task<int> { co_return 6 * 7; };
      stakker::coro::spawn(c1.core(), t(), stakker::shard::as_ret(std::move(a)));
    });
  });
  EXPECT_EQ(out.get_future().get(), "42 on 0");
  g.stop(stop_cause::stopped());
  g.join();
}

}  // namespace
