// SPDX-License-Identifier: MIT OR Apache-2.0
#include <gtest/gtest.h>

#include <chrono>

#include "asio/asio_support.hpp"
#include "stakker/coro/sleep.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/stakker.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::asio::use_task;
using stakker::coro::task;

TEST(UseTask, a_task_awaits_a_timer_and_resumes_on_the_runtime_queue) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  asio_test::answer<int> got;
  net::steady_timer t(ioc, 1ms);
  auto body = [&]() -> task<int> {
    co_await t.async_wait(use_task);
    co_return stakker::detail::running_core == &rt ? 7 : -1;
  };
  stakker::coro::spawn(rt, body(), got.to());
  ioc.run_for(1s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 7);
}

TEST(UseTask, an_error_is_thrown_as_system_error) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  asio_test::answer<int> got;
  net::steady_timer t(ioc, 1h);
  auto body = [&]() -> task<int> {
    net::post(ioc, [&] { t.cancel(); });
    try {
      co_await t.async_wait(use_task);
    } catch (const stakker::asio::system_error& e) {
      co_return e.code() == net::error::operation_aborted ? 1 : 2;
    }
    co_return 3;
  };
  stakker::coro::spawn(rt, body(), got.to());
  ioc.run_for(1s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 1);
}

using UseTaskTest = asio_test::io_loop_test;

TEST_F(UseTaskTest, a_read_returns_its_size_and_a_void_completion_returns_nothing) {
  net::local::stream_protocol::socket a(ioc), b(ioc);
  net::local::connect_pair(a, b);
  net::write(b, net::buffer("hello", 5));
  asio_test::answer<std::string> got;
  auto body = [&]() -> task<std::string> {
    char buf[16];
    std::size_t n = co_await a.async_read_some(net::buffer(buf), use_task);
    co_await net::post(ioc, use_task);  // void(): nothing to return
    co_return std::string(buf, n);
  };
  stakker::coro::spawn(rt, body(), got.to());
  run_until_out_of_work();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, "hello");
}

TEST_F(UseTaskTest, as_tuple_gives_the_error_as_a_value) {
  net::local::stream_protocol::socket a(ioc), b(ioc);
  net::local::connect_pair(a, b);
  b.close();
  asio_test::answer<bool> got;
  auto body = [&]() -> task<bool> {
    char buf[16];
    auto [ec, n] = co_await a.async_read_some(net::buffer(buf), asio_test::as_tuple(use_task));
    co_return ec == net::error::eof&& n == 0;
  };
  stakker::coro::spawn(rt, body(), got.to());
  run_until_out_of_work();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_TRUE(*got.value);
}

// An actor whose task waits on a read that never completes by itself.
struct reader {
  net::local::stream_protocol::socket* s;
  stakker::testing::counts* counts;
  int* resumed;
  static reader init(stakker::cx<reader>& cx, net::local::stream_protocol::socket* s,
                     stakker::testing::counts* c, int* resumed) {
    stakker::coro::spawn(cx, read_forever(s, c, resumed), stakker::ret_nop<void>());
    return reader{s, c, resumed};
  }
  static task<void> read_forever(net::local::stream_protocol::socket* s,
                                 stakker::testing::counts* c, int* resumed) {
    stakker::testing::counted local(*c);
    char buf[16];
    co_await s->async_read_some(net::buffer(buf), use_task);
    ++*resumed;
  }
  void stop(stakker::cx<reader>& cx) { cx.stop(); }
};

TEST_F(UseTaskTest, stopping_the_owning_actor_cancels_the_awaited_read_promptly) {
  net::local::stream_protocol::socket a(ioc), b(ioc);
  net::local::connect_pair(a, b);
  stakker::testing::counts counts;
  int resumed = 0;
  auto r = stakker::make_actor<&reader::init>(rt, stakker::ret_nop<stakker::stop_cause>(), &a,
                                              &counts, &resumed);
  loop.request_run();
  ioc.run_for(20ms);  // the task is now waiting on the read
  ioc.restart();
  EXPECT_EQ(counts.alive(), 1);
  stakker::call<&reader::stop>(r);
  loop.request_run();
  EXPECT_LT(run_until_out_of_work(), 2s);  // the read ended (operation_aborted)
  EXPECT_EQ(resumed, 0);
  EXPECT_TRUE(counts.balanced());
}

TEST_F(UseTaskTest, with_timeout_abandons_and_cancels_a_slow_operation) {
  net::steady_timer slow(ioc, 1h);
  asio_test::answer<bool> got;
  auto body = [&]() -> task<bool> {
    co_return co_await stakker::coro::with_timeout(rt, 5ms, slow.async_wait(use_task));
  };
  stakker::coro::spawn(rt, body(), got.to());
  EXPECT_LT(run_until_out_of_work(), 2s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_FALSE(*got.value);      // timed out
  EXPECT_EQ(slow.cancel(), 0u);  // nothing waits on the timer any more
}

TEST_F(UseTaskTest, a_handler_dropped_by_its_io_context_drops_the_task) {
  stakker::testing::counts counts;
  asio_test::answer<int> got;
  auto other = std::make_unique<net::io_context>();  // never run
  auto body = [&]() -> task<int> {
    stakker::testing::counted local(counts);
    co_await net::post(*other, use_task);
    co_return 1;
  };
  stakker::coro::spawn(rt, body(), got.to());
  rt.run(rt.now(), false);
  EXPECT_EQ(counts.alive(), 1);
  other.reset();  // destroys the posted handler uncalled
  rt.run(rt.now(), false);
  EXPECT_TRUE(got.once_none());
  EXPECT_TRUE(counts.balanced());
}

// --- Exactly once: a bare run, a stopped and restarted io_context, a bound slot ------------

TEST_F(UseTaskTest, an_awaited_operation_resumes_the_task_once_under_a_bare_run) {
  asio_test::answer<int> got;
  net::steady_timer t(ioc, 5ms);
  auto body = [&]() -> task<int> {
    co_await t.async_wait(use_task);
    co_return 1;
  };
  stakker::coro::spawn(rt, body(), got.to());
  ioc.run();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 1);
}

TEST_F(UseTaskTest,
       an_awaited_operation_resumes_the_task_once_when_the_io_context_is_stopped_and_restarted) {
  asio_test::answer<int> got;
  net::steady_timer t(ioc, 20ms);
  int resumed = 0;
  auto body = [&]() -> task<int> {
    co_await t.async_wait(use_task);
    co_return ++resumed;
  };
  stakker::coro::spawn(rt, body(), got.to());
  net::post(ioc, [&] { ioc.stop(); });
  ioc.run();
  EXPECT_EQ(got.calls, 0);
  ioc.restart();
  ioc.run();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(resumed, 1);
}

TEST_F(UseTaskTest,
       an_operation_cancelled_through_a_bound_slot_resumes_the_task_once_with_operation_aborted) {
  asio_test::answer<bool> got;
  net::cancellation_signal sig;
  net::steady_timer t(ioc, 1h);
  int resumed = 0;
  auto body = [&]() -> task<bool> {
    try {
      co_await t.async_wait(net::bind_cancellation_slot(sig.slot(), use_task));
    } catch (const stakker::asio::system_error& e) {
      ++resumed;
      co_return e.code() == net::error::operation_aborted;
    }
    co_return false;
  };
  stakker::coro::spawn(rt, body(), got.to());
  net::post(ioc, [&] { sig.emit(net::cancellation_type::terminal); });
  EXPECT_LT(run_until_out_of_work(), 2s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_TRUE(*got.value);
  EXPECT_EQ(resumed, 1);
}

// Regression: the caller's binder used to replace the bridge's slot, so destroying the task
// no longer cancelled the operation.
TEST_F(UseTaskTest, with_a_bound_slot_destroying_the_task_still_cancels_the_operation) {
  net::steady_timer slow(ioc, 1h);
  net::cancellation_signal sig;
  asio_test::answer<bool> got;
  auto body = [&]() -> task<bool> {
    co_return co_await stakker::coro::with_timeout(
        rt, 5ms, slow.async_wait(net::bind_cancellation_slot(sig.slot(), use_task)));
  };
  stakker::coro::spawn(rt, body(), got.to());
  EXPECT_LT(run_until_out_of_work(), 2s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_FALSE(*got.value);                    // timed out
  EXPECT_EQ(slow.cancel(), 0u);                // nothing waits on the timer any more
  sig.emit(net::cancellation_type::terminal);  // cleared from the slot: nothing to reach
}

// --- Resumed tasks that throw, or destroy their owner ---------------------------------------

TEST_F(UseTaskTest, a_task_that_throws_after_resuming_answers_its_spawn_once) {
  asio_test::answer<stakker::coro::result<int>> got;
  net::steady_timer t(ioc, 1ms);
  auto body = [&]() -> task<int> {
    co_await t.async_wait(use_task);
    throw std::runtime_error("task");
  };
  stakker::coro::spawn_result(rt, body(), got.to());
  ioc.run();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_FALSE(got.value->has_value());
}

// An actor whose task stops the actor itself once its operation completes.
struct self_stopper {
  static self_stopper init(stakker::cx<self_stopper>& cx, net::steady_timer* t,
                           stakker::testing::counts* c, int* after) {
    stakker::coro::spawn(cx, run(cx.this_actor(), t, c, after), stakker::ret_nop<void>());
    return {};
  }
  static task<void> run(stakker::actor<self_stopper> self, net::steady_timer* t,
                        stakker::testing::counts* c, int* after) {
    stakker::testing::counted local(*c);
    co_await t->async_wait(use_task);
    stakker::call<&self_stopper::stop>(self);
    co_await t->async_wait(use_task);  // the actor's stop drops the task here
    ++*after;
  }
  void stop(stakker::cx<self_stopper>& cx) { cx.stop(); }
};

TEST_F(UseTaskTest, a_resumed_task_that_stops_its_own_actor_is_dropped_at_its_next_wait) {
  stakker::testing::counts counts;
  asio_test::answer<stakker::stop_cause> stopped;
  net::steady_timer t(ioc, 1ms);
  int after = 0;
  auto a = stakker::make_actor<&self_stopper::init>(rt, stopped.to(), &t, &counts, &after);
  EXPECT_LT(run_until_out_of_work(), 2s);
  EXPECT_TRUE(stopped.once_with_value());
  EXPECT_TRUE(counts.balanced());
  EXPECT_EQ(after, 0);
}

TEST(UseTaskMisuse, awaiting_outside_a_bound_runtime_throws) {
  net::io_context ioc;
  stakker::runtime rt;
  rt.set_poll_waker([] {});
  asio_test::answer<std::string> got;
  net::steady_timer t(ioc, 1ms);
  auto body = [&]() -> task<std::string> {
    try {
      co_await t.async_wait(use_task);
    } catch (const std::logic_error& e) {
      co_return e.what();
    }
    co_return "no error";
  };
  stakker::coro::spawn(rt, body(), got.to());
  rt.run(rt.now(), false);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_NE(got.value->find("io_binding"), std::string::npos);
}

}  // namespace
