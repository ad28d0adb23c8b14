// SPDX-License-Identifier: MIT OR Apache-2.0
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "asio/asio_support.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::coro::task;

struct ExecutorTest : asio_test::io_loop_test {
  stakker::asio::runtime_executor ex = loop.get_executor();
};

TEST_F(ExecutorTest, satisfies_asios_executor_concept_and_converts_to_any_io_executor) {
  static_assert(net::execution::is_executor<stakker::asio::runtime_executor>::value);
  net::any_io_executor any = ex;
  EXPECT_EQ(&net::query(any, net::execution::context), &ioc);
  EXPECT_TRUE(any.target<stakker::asio::runtime_executor>() != nullptr);
  EXPECT_EQ(net::query(ex, net::execution::blocking), net::execution::blocking.never);
}

TEST_F(ExecutorTest, post_and_dispatch_queue_and_never_run_inline) {
  std::vector<std::string> order;
  rt.defer([&](stakker::core&) {
    net::post(ex, [&] { order.push_back("post"); });
    net::dispatch(ex, [&] { order.push_back("dispatch"); });
    rt.defer([&](stakker::core&) { order.push_back("defer"); });
    order.push_back("caller");
  });
  loop.request_run();
  ioc.run_for(100ms);
  EXPECT_EQ(order, (std::vector<std::string>{"caller", "post", "dispatch", "defer"}));
}

TEST_F(ExecutorTest, blocking_possibly_runs_the_runtime_at_once_from_an_io_context_handler) {
  auto possibly = net::require(ex, net::execution::blocking.possibly);
  EXPECT_EQ(net::query(possibly, net::execution::blocking), net::execution::blocking.possibly);
  EXPECT_EQ(possibly, ex);
  std::vector<std::string> order;
  net::post(ioc, [&] {
    rt.defer([&](stakker::core&) { order.push_back("queued before"); });
    possibly.execute([&] { order.push_back("executed"); });
    order.push_back("after execute");
  });
  ioc.run_for(100ms);
  // Run from the runtime's queue, behind what was queued, before execute returned.
  EXPECT_EQ(order, (std::vector<std::string>{"queued before", "executed", "after execute"}));
}

TEST_F(ExecutorTest, work_posted_from_outside_a_run_gets_a_run) {
  bool ran = false;
  net::post(ex, [&] { ran = stakker::detail::running_core == &rt; });
  ioc.run_for(100ms);
  EXPECT_TRUE(ran);
}

TEST_F(ExecutorTest, equal_when_they_run_on_the_same_runtime) {
  EXPECT_EQ(ex, loop.get_executor());
  EXPECT_EQ(ex, stakker::asio::executor_of(rt));
  net::io_context other_ioc;
  stakker::runtime other;
  stakker::asio::io_loop other_loop(other_ioc, other);
  EXPECT_NE(ex, other_loop.get_executor());
}

TEST_F(ExecutorTest, a_second_binding_for_one_runtime_is_refused) {
  EXPECT_THROW(stakker::asio::io_binding(rt, ioc), std::logic_error);
}

TEST(ExecutorBinding, a_runtime_without_a_loop_is_refused) {
  net::io_context ioc;
  stakker::runtime rt;
  EXPECT_THROW(stakker::asio::io_binding(rt, ioc), std::logic_error);
  EXPECT_THROW(stakker::asio::executor_of(rt), std::logic_error);
}

net::awaitable<int> asio_sleep_then(int v) {
  net::steady_timer t(co_await net::this_coro::executor, 1ms);
  co_await t.async_wait(net::use_awaitable);
  co_return v * 2;
}

TEST_F(ExecutorTest, co_spawn_runs_an_asio_coroutine_on_the_runtime) {
  asio_test::answer<int> got;
  bool on_runtime = false;
  auto coro = [&]() -> net::awaitable<int> {
    int v = co_await asio_sleep_then(20);
    on_runtime = stakker::detail::running_core == &rt;
    co_return v + 1;
  };
  net::co_spawn(ex, coro(), [&](std::exception_ptr e, int v) {
    EXPECT_FALSE(e);
    got.record(v);
  });
  ioc.run_for(1s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 41);
  EXPECT_TRUE(on_runtime);
}

TEST_F(ExecutorTest, a_task_awaits_an_asio_awaitable_through_co_spawn) {
  asio_test::answer<int> got;
  auto body = [&]() -> task<int> {
    int v = co_await net::co_spawn(ex, asio_sleep_then(5), stakker::asio::use_task);
    co_return v + (stakker::detail::running_core == &rt ? 100 : 0);
  };
  stakker::coro::spawn(rt, body(), got.to());
  ioc.run_for(1s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 110);
}

TEST_F(ExecutorTest, an_asio_awaitable_awaits_a_task_through_async_spawn) {
  asio_test::answer<int> got;
  auto make_task = [&]() -> task<int> {
    co_await net::steady_timer(ioc, 1ms).async_wait(stakker::asio::use_task);
    co_return stakker::detail::running_core == &rt ? 3 : -3;
  };
  auto coro = [&]() -> net::awaitable<int> {
    int v = co_await stakker::asio::async_spawn(ex, make_task(), net::use_awaitable);
    co_return v * 10;
  };
  net::co_spawn(ex, coro(), [&](std::exception_ptr e, int v) {
    EXPECT_FALSE(e);
    got.record(v);
  });
  ioc.run_for(1s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 30);
}

TEST_F(ExecutorTest, an_exception_from_a_task_reaches_the_asio_awaitable) {
  asio_test::answer<std::string> got;
  auto failing = []() -> task<int> {
    throw std::runtime_error("boom");
    co_return 0;
  };
  auto coro = [&]() -> net::awaitable<std::string> {
    try {
      co_await stakker::asio::async_spawn(ex, failing(), net::use_awaitable);
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "none";
  };
  net::co_spawn(ex, coro(), [&](std::exception_ptr, std::string v) { got.record(v); });
  ioc.run_for(1s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, "boom");
}

// --- Exactly once: a bare run, a stopped and restarted io_context, a bound slot ------------

TEST_F(ExecutorTest, a_posted_function_runs_once_under_a_bare_run) {
  int ran = 0;
  net::post(ex, [&] { ++ran; });
  ioc.run();
  EXPECT_EQ(ran, 1);
}

TEST_F(ExecutorTest, a_posted_function_runs_once_when_the_io_context_is_stopped_and_restarted) {
  ioc.run();  // the loop's first run
  ioc.restart();
  int ran = 0;
  net::post(ioc, [&] { ioc.stop(); });
  net::post(ex, [&] { ++ran; });  // its run is posted to ioc behind the stop
  ioc.run();
  EXPECT_EQ(ran, 0);
  ioc.restart();
  ioc.run();
  EXPECT_EQ(ran, 1);
}

// An Asio coroutine that waits on a timer made from the runtime's executor.
net::awaitable<int> wait_then(stakker::asio::runtime_executor ex, std::chrono::milliseconds d,
                              int v) {
  net::steady_timer t(ex, d);
  co_await t.async_wait(net::use_awaitable);
  co_return v;
}

TEST_F(ExecutorTest, co_spawn_on_it_completes_once_under_a_bare_run) {
  asio_test::answer<int> got;
  net::co_spawn(ex, wait_then(ex, 5ms, 2), [&](std::exception_ptr e, int v) {
    EXPECT_FALSE(e);
    got.record(v);
  });
  ioc.run();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 2);
}

TEST_F(
    ExecutorTest,
    preferring_tracked_work_counts_on_the_io_context_until_the_last_copy_goes_on_another_thread) {
  ioc.run();  // the loop's first run, before any tracked executor exists
  ioc.restart();
  EXPECT_EQ(net::query(ex, net::execution::outstanding_work),
            net::execution::outstanding_work.untracked);
  auto tracked = net::prefer(ex, net::execution::outstanding_work.tracked);
  static_assert(std::is_same_v<decltype(tracked), stakker::asio::tracked_runtime_executor>);
  static_assert(net::execution::is_executor<decltype(tracked)>::value);
  EXPECT_EQ(net::query(tracked, net::execution::outstanding_work),
            net::execution::outstanding_work.tracked);
  EXPECT_EQ(&net::query(tracked, net::execution::context), &ioc);
  EXPECT_EQ(net::require(tracked, net::execution::outstanding_work.untracked), ex);
  {
    net::any_io_executor any =
        net::prefer(net::any_io_executor(ex), net::execution::outstanding_work.tracked);
    EXPECT_TRUE(any.target<stakker::asio::tracked_runtime_executor>() != nullptr);
  }
  auto copy = tracked;
  bool last_ran = false;  // written by the handler, on this thread, inside ioc.run()
  std::thread release([&] {
    std::this_thread::sleep_for(20ms);
    // The last tracked copy goes with this handler.
    net::post(ioc, [t = std::move(copy), &last_ran] { last_ran = true; });
  });
  net::post(ioc, [t = std::move(tracked)] {});
  ioc.run();  // returns only once both handlers ran and destroyed their executors
  // Not a measured time (a slow machine, or valgrind, can spend the 20 ms before the run):
  // a run that returned early would have left the late handler unrun.
  EXPECT_TRUE(last_ran);
  release.join();
}

// Regression: the runtime's executor ignored outstanding_work.tracked, so co_spawn on it
// (and any operation whose handler runs on it) held no work on the io_context.
TEST_F(ExecutorTest,
       co_spawn_on_it_completes_once_under_a_bare_run_while_the_coroutine_waits_on_another_thread) {
  net::io_context other;
  auto other_work = net::make_work_guard(other);
  std::thread other_thread([&] { other.run(); });
  asio_test::answer<int> got;
  auto coro = [&]() -> net::awaitable<int> {
    net::steady_timer t(other, 30ms);  // completes on the other thread, then hops back here
    co_await t.async_wait(net::use_awaitable);
    co_return stakker::detail::running_core == &rt ? 5 : -5;
  };
  net::co_spawn(ex, coro(), [&](std::exception_ptr e, int v) {
    EXPECT_FALSE(e);
    got.record(v);
  });
  ioc.run();
  other_work.reset();
  other_thread.join();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 5);
}

TEST_F(ExecutorTest, co_spawn_on_it_completes_once_when_the_io_context_is_stopped_and_restarted) {
  asio_test::answer<int> got;
  net::co_spawn(ex, wait_then(ex, 20ms, 3), [&](std::exception_ptr, int v) { got.record(v); });
  net::post(ioc, [&] { ioc.stop(); });
  ioc.run();
  EXPECT_EQ(got.calls, 0);
  ioc.restart();
  ioc.run();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, 3);
}

TEST_F(ExecutorTest,
       co_spawn_on_it_cancelled_through_its_slot_completes_once_with_operation_aborted) {
  int calls = 0;
  bool aborted = false;
  net::cancellation_signal sig;
  net::co_spawn(ex, wait_then(ex, 1h, 4),
                net::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, int) {
                  ++calls;
                  try {
                    if (e) std::rethrow_exception(e);
                  } catch (const stakker::asio::system_error& se) {
                    aborted = se.code() == net::error::operation_aborted;
                  }
                }));
  net::post(ioc, [&] { sig.emit(net::cancellation_type::terminal); });
  EXPECT_LT(run_until_out_of_work(), 2s);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(aborted);
}

TEST_F(ExecutorTest, a_posted_function_that_throws_leaves_the_io_contexts_run_and_the_next_runs) {
  stakker::testing::counts counts;
  int ran = 0;
  net::post(ex, [c = stakker::testing::counted(counts)] { throw std::runtime_error("posted"); });
  net::post(ex, [&] { ++ran; });
  EXPECT_THROW(ioc.run(), std::runtime_error);
  EXPECT_EQ(counts.alive(), 0);  // the thrower was destroyed once, while unwinding
  ioc.restart();
  ioc.run();
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(counts.balanced());
}

}  // namespace
