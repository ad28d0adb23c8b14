// SPDX-License-Identifier: MIT OR Apache-2.0
// First checks of the bridge's main paths (the full contract tests live beside this file).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>

#include "stakker/coro/coro.hpp"
#include "stakker/stakker.hpp"
#include "stakker/testing/virtual_loop.hpp"

using namespace stakker;
using namespace stakker::coro;
using namespace std::chrono_literals;

namespace {

task<int> add(int a, int b) { co_return a + b; }

task<int> twice(int a) {
  int x = co_await add(a, a);
  co_return x;
}

struct server {
  static server init(cx<server>&) { return {}; }
  void square(cx<server>&, int v, ret<int> r) { r(v * v); }
  void ignore(cx<server>&, int, ret<int>) {}
};

}  // namespace

TEST(coro_smoke, a_spawned_task_delivers_its_value) {
  runtime rt;
  std::optional<int> got;
  spawn(rt, twice(21), ret_do<int>([&](std::optional<int> v) { got = v; }));
  rt.run(rt.now(), false);
  EXPECT_EQ(got, 42);
}

TEST(coro_smoke, a_push_pipe_resolves_in_either_order) {
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  std::optional<int> got;
  spawn(
      rt, [](auto a) -> task<int> { co_return co_await a; }(std::move(aw)),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  rt.run(rt.now(), false);
  EXPECT_FALSE(got);
  r(7);
  rt.run(rt.now(), false);
  EXPECT_EQ(got, 7);
}

TEST(coro_smoke, a_dropped_ret_drops_the_task) {
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  bool answered = false, none = false, after = false;
  spawn(
      rt,
      [](auto a, bool& after_) -> task<int> {
        int v = co_await a;
        after_ = true;
        co_return v;
      }(std::move(aw), after),
      ret_do<int>([&](std::optional<int> v) {
        answered = true;
        none = !v;
      }));
  rt.run(rt.now(), false);
  { auto dropped = std::move(r); }
  rt.run(rt.now(), false);
  EXPECT_TRUE(answered);
  EXPECT_TRUE(none);
  EXPECT_FALSE(after);
}

TEST(coro_smoke, a_query_gets_the_actor_answer_or_fails) {
  runtime rt;
  auto a = make_actor<&server::init>(rt, ret_nop<stop_cause>());
  std::optional<int> got;
  std::optional<bool> failed;
  spawn(
      rt,
      [](actor<server> s) -> task<int> {
        // Both forms: the member as an argument, and fixed at compile time.
        co_return co_await query(s, &server::square, 9) - co_await query<&server::square>(s, 3);
      }(a),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  spawn(
      rt,
      [](actor<server> s) -> task<bool> {
        result<int> r = co_await query_result(s, &server::ignore, 9);
        result<int> r2 = co_await query_result<&server::ignore>(s, 9);
        co_return !r.has_value() && !r2.has_value();
      }(a),
      ret_do<bool>([&](std::optional<bool> v) { failed = v; }));
  rt.run(rt.now(), false);
  EXPECT_EQ(got, 72);
  EXPECT_EQ(failed, true);
}

TEST(coro_smoke, sleep_and_timeout_follow_virtual_time) {
  stakker::testing::virtual_loop loop;
  runtime& rt = loop.rt();
  std::optional<std::optional<int>> got;
  spawn(
      rt,
      [](core& c) -> task<std::optional<int>> {
        co_await sleep_for(c, 10ms);
        co_return co_await with_timeout(c, 5ms, [](core& cc) -> task<int> {
          co_await sleep_for(cc, 1s);
          co_return 1;
        }(c));
      }(rt),
      ret_do<std::optional<int>>([&](std::optional<std::optional<int>> v) { got = v; }));
  for (int i = 0; i < 100; ++i) loop.advance(1ms);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
}

TEST(coro_smoke, when_all_and_generators_and_streams) {
  runtime rt;
  std::optional<int> sum;
  spawn(
      rt,
      []() -> task<int> {
        auto [a, b] = co_await when_all(add(1, 2), add(3, 4));
        co_return a + b;
      }(),
      ret_do<int>([&](std::optional<int> v) { sum = v; }));
  std::vector<std::optional<int>> seen;
  spawn_stream(
      rt,
      []() -> async_generator<int> {
        for (int i = 0; i < 3; ++i) co_yield i;
      }(),
      fwd_do<std::optional<int>>([&](std::optional<int> v) { seen.push_back(v); }));
  rt.run(rt.now(), false);
  EXPECT_EQ(sum, 10);
  EXPECT_EQ(seen, (std::vector<std::optional<int>>{0, 1, 2, std::nullopt}));

  auto [reader, f] = fwd_stream<int>(rt);
  std::optional<int> total;
  spawn(
      rt,
      [](auto rd) -> task<int> {
        int t = 0;
        while (auto v = co_await rd.next()) t += *v;
        co_return t;
      }(std::move(reader)),
      ret_do<int>([&](std::optional<int> v) { total = v; }));
  f(5);
  f(6);
  rt.run(rt.now(), false);
  f(std::nullopt);
  rt.run(rt.now(), false);
  EXPECT_EQ(total, 11);
}

namespace {
// A foreign awaitable: completes on its own thread.
struct thread_awaitable {
  std::thread* t;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    *t = std::thread([h] { h.resume(); });
  }
  std::thread::id await_resume() const noexcept { return std::this_thread::get_id(); }
};
}  // namespace

TEST(coro_smoke, a_foreign_awaitable_resumes_on_the_runtime_thread_in_threads) {
  runtime rt;
  rt.set_poll_waker([] {});  // the test polls by running
  std::thread worker;
  std::optional<bool> same;
  spawn(
      rt,
      [](std::thread* t) -> task<bool> {
        auto id = co_await thread_awaitable{t};
        co_return id == std::this_thread::get_id();
      }(&worker),
      ret_do<bool>([&](std::optional<bool> v) { same = v; }));
  for (int i = 0; i < 2000 && !same; ++i) {
    rt.run(rt.now(), false);
    std::this_thread::sleep_for(1ms);
  }
  worker.join();
  EXPECT_EQ(same, true);
}
