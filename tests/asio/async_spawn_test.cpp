// SPDX-License-Identifier: MIT OR Apache-2.0
// async_spawn: outstanding work held from initiation to dispatch, stop and restart, and
// cancellation through the handler's slot.
#include "stakker/asio/async_spawn.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <thread>

#include "asio/asio_support.hpp"
#include "stakker/coro/ret_pipe.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/testing/counted.hpp"
#if defined(STAKKER_ASIO_USE_BOOST)
#include <boost/asio/experimental/awaitable_operators.hpp>
#else
#include <asio/experimental/awaitable_operators.hpp>
#endif

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::asio::async_spawn;
using stakker::coro::task;

// Awaits `aw` (a ret_pipe's awaiter) with a counted local in the frame.
template <class Awaiter>
task<int> await_pipe(Awaiter aw, stakker::testing::counts* counts) {
  stakker::testing::counted local(*counts);
  co_return co_await std::move(aw);
}

// What a completion handler saw.
struct completions {
  int calls = 0;
  std::exception_ptr error;
  int value = 0;
  auto handler() {
    return [this](std::exception_ptr e, int v) {
      ++calls;
      error = std::move(e);
      value = v;
    };
  }
  bool aborted() const {
    if (!error) return false;
    try {
      std::rethrow_exception(error);
    } catch (const stakker::asio::system_error& e) {
      return e.code() == net::error::operation_aborted;
    } catch (...) {
    }
    return false;
  }
};

struct AsyncSpawn : asio_test::io_loop_test {
  stakker::asio::runtime_executor ex = loop.get_executor();
  stakker::testing::counts counts;
  completions got;

  // Answers `r` with `v` from another thread after `delay`, through the runtime's executor.
  std::thread answer_later(stakker::ret<int> r, int v, std::chrono::milliseconds delay) {
    return std::thread([this, r = std::move(r), v, delay]() mutable {
      std::this_thread::sleep_for(delay);
      net::post(ex, [r = std::move(r), v]() mutable { r(v); });
    });
  }
};

// Regression: nothing else keeps `ioc` busy while the task waits for
// another thread, so without outstanding work run() returned at once and the handler was
// destroyed uncalled.
TEST_F(
    AsyncSpawn,
    a_handler_bound_to_an_io_context_runs_once_under_a_bare_run_while_the_task_waits_on_another_thread) {
  auto [aw, r] = stakker::coro::ret_pipe<int>(rt);
  async_spawn(ex, await_pipe(std::move(aw), &counts), net::bind_executor(ioc, got.handler()));
  std::thread th = answer_later(std::move(r), 7, 30ms);
  ioc.run();
  th.join();
  EXPECT_EQ(got.calls, 1);
  EXPECT_FALSE(got.error);
  EXPECT_EQ(got.value, 7);
  EXPECT_TRUE(counts.balanced());
}

TEST_F(
    AsyncSpawn,
    a_handler_on_the_runtimes_executor_runs_once_under_a_bare_run_while_the_task_waits_on_another_thread) {
  auto [aw, r] = stakker::coro::ret_pipe<int>(rt);
  bool on_runtime = false;
  async_spawn(ex, await_pipe(std::move(aw), &counts), [&](std::exception_ptr e, int v) {
    on_runtime = stakker::detail::running_core == &rt;
    got.handler()(std::move(e), v);
  });
  std::thread th = answer_later(std::move(r), 8, 30ms);
  ioc.run();
  th.join();
  EXPECT_EQ(got.calls, 1);
  EXPECT_EQ(got.value, 8);
  EXPECT_TRUE(on_runtime);  // the default associated executor is the runtime's, as co_spawn's
}

TEST_F(
    AsyncSpawn,
    a_handler_runs_once_when_the_io_context_is_stopped_and_restarted_while_the_task_waits_on_another_thread) {
  auto [aw, r] = stakker::coro::ret_pipe<int>(rt);
  async_spawn(ex, await_pipe(std::move(aw), &counts), net::bind_executor(ioc, got.handler()));
  net::post(ioc, [&] { ioc.stop(); });
  std::thread th = answer_later(std::move(r), 9, 50ms);
  ioc.run();  // the task starts, then the io_context stops
  EXPECT_EQ(got.calls, 0);
  ioc.restart();
  ioc.run();  // still holds work until the handler is dispatched
  th.join();
  EXPECT_EQ(got.calls, 1);
  EXPECT_EQ(got.value, 9);
}

// Regression: the cancellation slot was ignored.
TEST_F(AsyncSpawn,
       a_terminal_cancellation_drops_the_task_and_completes_once_with_operation_aborted) {
  auto [aw, r] = stakker::coro::ret_pipe<int>(rt);  // never answered before the cancel
  net::cancellation_signal sig;
  async_spawn(ex, await_pipe(std::move(aw), &counts),
              net::bind_cancellation_slot(sig.slot(), net::bind_executor(ioc, got.handler())));
  net::post(ioc, [&] {
    EXPECT_EQ(counts.alive(), 1);  // the task started and waits
    sig.emit(net::cancellation_type::terminal);
  });
  EXPECT_LT(run_until_out_of_work(), 2s);
  EXPECT_EQ(got.calls, 1);
  EXPECT_TRUE(got.aborted());
  EXPECT_TRUE(counts.balanced());  // dropped at its suspension point
  r(1);                            // too late: nobody waits any more
  run_until_out_of_work();
  EXPECT_EQ(got.calls, 1);
}

TEST_F(AsyncSpawn, a_task_cancelled_before_it_starts_never_runs_and_completes_once_aborted) {
  auto [aw, r] = stakker::coro::ret_pipe<int>(rt);
  net::cancellation_signal sig;
  async_spawn(ex, await_pipe(std::move(aw), &counts),
              net::bind_cancellation_slot(sig.slot(), got.handler()));
  sig.emit(net::cancellation_type::terminal);
  ioc.run();
  EXPECT_EQ(got.calls, 1);
  EXPECT_TRUE(got.aborted());
  EXPECT_EQ(counts.constructed, 0);  // the frame never ran
}

TEST_F(AsyncSpawn, a_partial_cancellation_is_ignored_and_the_task_completes) {
  auto [aw, r] = stakker::coro::ret_pipe<int>(rt);
  net::cancellation_signal sig;
  async_spawn(ex, await_pipe(std::move(aw), &counts),
              net::bind_cancellation_slot(sig.slot(), got.handler()));
  net::post(ex, [&, r = std::move(r)]() mutable {
    sig.emit(net::cancellation_type::partial | net::cancellation_type::total);
    r(4);
  });
  ioc.run();
  EXPECT_EQ(got.calls, 1);
  EXPECT_FALSE(got.error);
  EXPECT_EQ(got.value, 4);
}

TEST_F(AsyncSpawn, a_cancellation_after_the_task_ended_changes_nothing) {
  auto [aw, r] = stakker::coro::ret_pipe<int>(rt);
  net::cancellation_signal sig;
  r(5);
  async_spawn(ex, await_pipe(std::move(aw), &counts),
              net::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, int v) {
                got.handler()(std::move(e), v);
                sig.emit(net::cancellation_type::terminal);  // the slot was cleared first
              }));
  ioc.run();
  EXPECT_EQ(got.calls, 1);
  EXPECT_EQ(got.value, 5);
}

// Regression: the losing side of `||` waited for the task to finish.
TEST_F(AsyncSpawn, the_losing_side_of_awaitable_operators_or_is_dropped_at_once) {
  using namespace net::experimental::awaitable_operators;
  auto pipe = stakker::coro::ret_pipe<int>(rt);  // never answered
  int index = -1;
  auto race = [&]() -> net::awaitable<void> {
    net::steady_timer t(ioc, 10ms);
    auto v =
        co_await (async_spawn(ex, await_pipe(std::move(pipe.first), &counts), net::use_awaitable) ||
                  t.async_wait(net::use_awaitable));
    index = static_cast<int>(v.index());
  };
  net::co_spawn(ioc, race(), [](std::exception_ptr e) { EXPECT_FALSE(e); });
  // co_spawn holds work itself: a task still waiting would keep ioc busy up to the limit.
  EXPECT_LT(run_until_out_of_work(), 2s);
  EXPECT_EQ(index, 1);  // the timer won
  EXPECT_TRUE(counts.balanced());
}

TEST_F(AsyncSpawn, a_handler_that_throws_propagates_out_of_run_once_and_the_loop_goes_on) {
  async_spawn(ex, await_pipe(stakker::coro::ret_pipe<int>(rt).first, &counts),
              [&](std::exception_ptr, int) {
                ++got.calls;
                throw std::runtime_error("handler");
              });
  // The ret of the pipe was dropped at once: the task is dropped and the handler gets
  // task_dropped, then throws out of the runtime's run and the io_context's.
  EXPECT_THROW(ioc.run(), std::runtime_error);
  EXPECT_EQ(got.calls, 1);
  int later = 0;
  net::post(ex, [&] { ++later; });
  ioc.restart();
  ioc.run();
  EXPECT_EQ(later, 1);
  EXPECT_EQ(got.calls, 1);
  EXPECT_TRUE(counts.balanced());
}

TEST(AsyncSpawnTeardown,
     a_task_pending_when_the_runtime_goes_completes_an_io_context_handler_with_task_dropped) {
  net::io_context ioc;
  completions got;
  stakker::testing::counts counts;
  {
    stakker::runtime rt;
    stakker::asio::io_loop loop(ioc, rt);
    auto [aw, r] = stakker::coro::ret_pipe<int>(rt);
    async_spawn(loop.get_executor(), await_pipe(std::move(aw), &counts),
                net::bind_executor(ioc, got.handler()));
    ioc.poll();  // the task starts and waits
    EXPECT_EQ(counts.alive(), 1);
    ioc.restart();
  }  // the runtime drops the task; the handler is posted to ioc
  EXPECT_TRUE(counts.balanced());
  EXPECT_EQ(got.calls, 0);
  ioc.run();
  EXPECT_EQ(got.calls, 1);
  bool dropped = false;
  try {
    std::rethrow_exception(got.error);
  } catch (const stakker::coro::task_dropped&) {
    dropped = true;
  } catch (...) {
  }
  EXPECT_TRUE(dropped);
}

// The handler is bound to the runtime's executor through any_io_executor; the loop goes
// before the runtime, as when declared after it.
TEST(
    AsyncSpawnTeardown,
    a_task_pending_when_the_runtime_goes_after_its_loop_drops_a_handler_bound_to_that_runtime_uncalled) {
  net::io_context ioc;
  stakker::testing::counts counts;
  int calls = 0;
  {
    stakker::runtime rt;
    auto loop = std::make_unique<stakker::asio::io_loop>(ioc, rt);
    auto pipe = stakker::coro::ret_pipe<int>(rt);  // never answered
    net::any_io_executor ex = loop->get_executor();
    async_spawn(loop->get_executor(), await_pipe(std::move(pipe.first), &counts),
                net::bind_executor(ex, [&, c = stakker::testing::counted(counts)](
                                           std::exception_ptr, int) { ++calls; }));
    ioc.poll();  // the task starts and waits
    ioc.restart();
    EXPECT_EQ(counts.alive(), 2);  // the task's local and the handler's capture
    ex = net::any_io_executor();
    loop.reset();
  }  // the runtime drops the task; its handler's runtime is gone (ASan: its binding unused)
  EXPECT_TRUE(counts.balanced());
  ioc.run();
  EXPECT_EQ(calls, 0);
}

// A request emitted after the handler was destroyed uncalled (its runtime went, then the
// loop): nothing is left to cancel, and the runtime's binding is gone.
TEST(AsyncSpawnTeardown, a_cancellation_emitted_after_the_runtime_went_does_nothing) {
  net::io_context ioc;
  net::cancellation_signal sig;
  completions got;
  {
    auto rt = std::make_unique<stakker::runtime>();
    auto loop = std::make_unique<stakker::asio::io_loop>(ioc, *rt);
    auto [aw, r] = stakker::coro::ret_pipe<int>(*rt);
    stakker::testing::counts counts;
    async_spawn(loop->get_executor(), await_pipe(std::move(aw), &counts),
                net::bind_cancellation_slot(sig.slot(), got.handler()));
    ioc.poll();  // the task starts and waits
    loop.reset();
    rt.reset();  // the handler (on the runtime's executor) is destroyed uncalled
  }
  sig.emit(net::cancellation_type::terminal);  // ASan: no use of the gone binding
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(got.calls, 0);
}

// The same with the task_dropped completion posted to the io_context but not yet run: the
// operation has not completed, so emitting is legal.
TEST(AsyncSpawnTeardown, a_cancellation_emitted_while_task_dropped_is_posted_does_nothing_more) {
  net::io_context ioc;
  net::cancellation_signal sig;
  completions got;
  {
    auto rt = std::make_unique<stakker::runtime>();
    auto loop = std::make_unique<stakker::asio::io_loop>(ioc, *rt);
    auto [aw, r] = stakker::coro::ret_pipe<int>(*rt);
    stakker::testing::counts counts;
    async_spawn(loop->get_executor(), await_pipe(std::move(aw), &counts),
                net::bind_cancellation_slot(sig.slot(), net::bind_executor(ioc, got.handler())));
    ioc.poll();
    loop.reset();
    rt.reset();  // task_dropped is posted to ioc
  }
  sig.emit(net::cancellation_type::terminal);
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(got.calls, 1);
  EXPECT_FALSE(got.aborted());  // task_dropped, as posted
}

// A handler bound to a strand over the runtime's executor runs on that runtime too: when
// the runtime goes, it is destroyed uncalled, not posted through the gone binding.
TEST(AsyncSpawnTeardown, a_handler_on_a_strand_over_the_runtime_is_dropped_uncalled_with_it) {
  net::io_context ioc;
  int calls = 0;
  {
    auto rt = std::make_unique<stakker::runtime>();
    auto loop = std::make_unique<stakker::asio::io_loop>(ioc, *rt);
    auto [aw, r] = stakker::coro::ret_pipe<int>(*rt);
    stakker::testing::counts counts;
    auto strand = net::make_strand(loop->get_executor());
    async_spawn(loop->get_executor(), await_pipe(std::move(aw), &counts),
                net::bind_executor(strand, [&calls](std::exception_ptr, int) { ++calls; }));
    ioc.poll();
    loop.reset();
    rt.reset();
  }
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(calls, 0);
}

// The task finished and its completion was queued on the runtime, but an exception left
// that run first and the runtime then went: the handler still runs once, with the value.
task<int> seven_behind_a_throw(stakker::core& c) {
  c.defer([](stakker::core&) { throw std::runtime_error("unrelated closure"); });
  co_return 7;
}

TEST(AsyncSpawnTeardown, a_completion_queued_behind_a_throwing_closure_still_reaches_its_handler) {
  net::io_context ioc;
  completions got;
  {
    auto rt = std::make_unique<stakker::runtime>();
    auto loop = std::make_unique<stakker::asio::io_loop>(ioc, *rt);
    async_spawn(loop->get_executor(), seven_behind_a_throw(*rt),
                net::bind_executor(ioc, got.handler()));
    EXPECT_THROW(ioc.poll(), std::runtime_error);
    loop.reset();
    rt.reset();
  }
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(got.calls, 1);
  EXPECT_FALSE(got.error);
  EXPECT_EQ(got.value, 7);
}

}  // namespace
