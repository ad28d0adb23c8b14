// SPDX-License-Identifier: MIT OR Apache-2.0
// The three ways of sharing loops: io_loop (the io_context drives the runtime), io_poller
// (the embedded loop polls the io_context), and an io_context on its own thread.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "asio/asio_support.hpp"
#include "stakker/coro/ret_pipe.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/stakker.hpp"
#include "stakker/testing/counted.hpp"
#if defined(STAKKER_ASIO_USE_BOOST)
#include <boost/asio/experimental/awaitable_operators.hpp>
#else
#include <asio/experimental/awaitable_operators.hpp>
#endif

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::clock;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::asio::use_task;
using stakker::coro::task;

auto since(clock::time_point start) { return clock::now() - start; }

// --- io_loop: the io_context is the outer loop ---------------------------------------------

TEST(IoLoop, runtime_timers_fire_through_the_io_context_and_run_returns_the_shutdown_cause) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  const auto start = rt.now();  // timers count from the runtime's time
  clock::time_point fired;
  rt.after(30ms, [&](stakker::core& c) {
    fired = clock::now();
    c.shutdown(stop_cause::stopped());
  });
  stop_cause cause = loop.run();
  EXPECT_EQ(cause.kind(), stop_kind::stopped);
  EXPECT_GE(fired - start, 30ms);
  EXPECT_LT(fired - start, 1s);
}

TEST(IoLoop, a_timer_moved_earlier_rearms_the_io_contexts_timer) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  const auto start = clock::now();
  rt.after(1h, [](stakker::core&) {});
  rt.defer([&](stakker::core& c) {
    c.after(20ms, [](stakker::core& cc) { cc.shutdown(stop_cause::stopped()); });
  });
  loop.run();
  EXPECT_LT(since(start), 1s);
}

TEST(IoLoop, idle_items_run_one_per_pass_behind_ready_handlers) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  std::vector<std::string> log;
  rt.idle([&](stakker::core&) { log.push_back("idle 1"); });
  rt.idle([&](stakker::core& c) {
    log.push_back("idle 2");
    c.shutdown(stop_cause::stopped());
  });
  net::post(ioc, [&] { log.push_back("asio"); });
  loop.run();
  EXPECT_EQ(log, (std::vector<std::string>{"asio", "idle 1", "idle 2"}));
}

TEST(IoLoop, a_waker_on_another_thread_wakes_the_runtime) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  std::thread::id ran_on;
  stakker::waker w = rt.waker([&](stakker::core& c, bool deleted) {
    if (deleted) return;
    ran_on = std::this_thread::get_id();
    c.shutdown(stop_cause::stopped());
  });
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    w.wake();
  });
  loop.run();
  t.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(IoLoop, run_returns_when_someone_else_stops_the_io_context) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  net::steady_timer t(ioc, 5ms);
  t.async_wait([&](const stakker::asio::error_code&) { ioc.stop(); });
  EXPECT_EQ(loop.run().kind(), stop_kind::stopped);
  EXPECT_FALSE(rt.is_shutdown());
}

TEST(IoLoop, handlers_posted_before_the_loop_was_destroyed_do_nothing) {
  net::io_context ioc;
  stakker::runtime rt;
  int ran = 0;
  {
    stakker::asio::io_loop loop(ioc, rt);
    rt.defer([&](stakker::core&) { ++ran; });
    loop.request_run();
    rt.after(1ms, [&](stakker::core&) { ++ran; });
  }
  ioc.run_for(20ms);
  EXPECT_EQ(ran, 0);
  rt.run(clock::now() + 1s, false);  // the work is still queued on the runtime
  EXPECT_EQ(ran, 2);
}

TEST(IoLoop, a_pending_completion_is_delivered_once_when_run_is_stopped_and_run_again) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  int calls = 0;
  net::steady_timer t(ioc, 30ms);
  t.async_wait(stakker::asio::use_ret(
      rt, stakker::ret_do<stakker::asio::error_code>([&](std::optional<stakker::asio::error_code>) {
        ++calls;
        rt.shutdown(stop_cause::stopped());
      })));
  net::steady_timer stopper(ioc, 5ms);
  stopper.async_wait([&](const stakker::asio::error_code&) { ioc.stop(); });
  EXPECT_EQ(loop.run().kind(), stop_kind::stopped);  // someone else stopped ioc
  EXPECT_FALSE(rt.is_shutdown());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(loop.run().kind(), stop_kind::stopped);  // the runtime's shutdown this time
  EXPECT_TRUE(rt.is_shutdown());
  EXPECT_EQ(calls, 1);
}

// --- io_poller: the embedded loop is the outer loop -----------------------------------------

struct IoPollerTest : ::testing::Test {
  stakker::runtime rt;
  stakker::loop::epoll_loop loop{rt};
  net::io_context ioc;
  stakker::asio::io_poller poller{loop, ioc};
};

TEST_F(IoPollerTest, an_asio_timer_wakes_the_sleeping_epoll_loop) {
  const auto start = clock::now();
  auto body = [&]() -> task<void> {
    net::steady_timer t(ioc, 30ms);
    co_await t.async_wait(use_task);
  };
  stakker::coro::spawn(rt, body(), stakker::ret_do<void>([&](std::optional<std::monostate>) {
                         rt.shutdown(stop_cause::stopped());
                       }));
  loop.run();
  EXPECT_GE(since(start), 30ms);
  EXPECT_LT(since(start), 1s);
}

TEST_F(IoPollerTest, epoll_readiness_wakes_the_loop_while_the_io_context_sleeps) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  net::steady_timer busy(ioc, 1h);  // the io_context has work, so it would sleep for an hour
  busy.async_wait([](const stakker::asio::error_code&) {});
  auto src = loop.add(fds[0], EPOLLIN, 0, stakker::fwd_do<std::uint32_t>([&](std::uint32_t) {
                        rt.shutdown(stop_cause::stopped());
                      }));
  const auto start = clock::now();
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(::write(fds[1], "x", 1), 1);
  });
  loop.run();
  t.join();
  EXPECT_LT(since(start), 1s);
  busy.cancel();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(IoPollerTest, runtime_timers_fire_while_the_io_context_sleeps) {
  net::steady_timer busy(ioc, 1h);
  busy.async_wait([](const stakker::asio::error_code&) {});
  const auto start = rt.now();  // timers count from the runtime's time
  rt.after(20ms, [](stakker::core& c) { c.shutdown(stop_cause::stopped()); });
  loop.run();
  EXPECT_GE(since(start), 20ms);
  EXPECT_LT(since(start), 1s);
  busy.cancel();
}

TEST_F(IoPollerTest, a_task_exchanges_bytes_over_a_socket_pair) {
  net::local::stream_protocol::socket a(ioc), b(ioc);
  net::local::connect_pair(a, b);
  std::string received;
  auto echo = [&]() -> task<void> {
    char buf[64];
    for (;;) {
      auto [ec, n] = co_await b.async_read_some(net::buffer(buf), asio_test::as_tuple(use_task));
      if (ec) co_return;
      co_await net::async_write(b, net::buffer(buf, n), use_task);
    }
  };
  auto client = [&]() -> task<void> {
    for (int i = 0; i < 100; ++i) {
      std::string msg = "message " + std::to_string(i) + ";";
      co_await net::async_write(a, net::buffer(msg), use_task);
      char buf[64];
      std::size_t n = co_await net::async_read(a, net::buffer(buf, msg.size()), use_task);
      received.append(buf, n);
    }
    a.shutdown(net::socket_base::shutdown_send);
  };
  stakker::coro::spawn(rt, echo(), stakker::ret_do<void>([&](std::optional<std::monostate> v) {
                         EXPECT_TRUE(v);
                         rt.shutdown(stop_cause::stopped());
                       }));
  stakker::coro::spawn(rt, client(), stakker::ret_nop<void>());
  loop.run();
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "message " + std::to_string(i) + ";";
  EXPECT_EQ(received, expected);
}

TEST_F(IoPollerTest, a_use_ret_completion_is_delivered_once) {
  int calls = 0;
  net::steady_timer t(ioc, 5ms);
  t.async_wait(stakker::asio::use_ret(
      rt, stakker::ret_do<stakker::asio::error_code>([&](std::optional<stakker::asio::error_code>) {
        ++calls;
        rt.shutdown(stop_cause::stopped());
      })));
  loop.run();
  EXPECT_EQ(calls, 1);
}

TEST_F(IoPollerTest,
       a_use_ret_completion_is_delivered_once_after_a_handler_stopped_the_io_context) {
  int calls = 0;
  net::steady_timer t(ioc, 20ms);
  t.async_wait(stakker::asio::use_ret(
      rt, stakker::ret_do<stakker::asio::error_code>([&](std::optional<stakker::asio::error_code>) {
        ++calls;
        rt.shutdown(stop_cause::stopped());
      })));
  net::post(ioc, [&] { ioc.stop(); });  // the poller restarts it on its next turn
  const auto start = clock::now();
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_LT(since(start), 1s);
}

TEST_F(IoPollerTest,
       a_use_ret_operation_cancelled_through_its_slot_delivers_operation_aborted_once) {
  std::vector<stakker::asio::error_code> got;
  net::cancellation_signal sig;
  net::steady_timer t(ioc, 1h);
  t.async_wait(net::bind_cancellation_slot(
      sig.slot(), stakker::asio::use_ret(rt, stakker::ret_do<stakker::asio::error_code>(
                                                 [&](std::optional<stakker::asio::error_code> ec) {
                                                   got.push_back(
                                                       ec.value_or(stakker::asio::error_code()));
                                                   rt.shutdown(stop_cause::stopped());
                                                 }))));
  rt.after(5ms, [&](stakker::core&) { sig.emit(net::cancellation_type::terminal); });
  const auto start = clock::now();
  loop.run();
  EXPECT_LT(since(start), 1s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], net::error::operation_aborted);
}

TEST(IoPollerTeardown, a_handler_run_by_the_poller_may_destroy_it) {
  stakker::runtime rt;
  stakker::loop::epoll_loop loop(rt);
  net::io_context ioc;
  auto poller = std::make_unique<stakker::asio::io_poller>(loop, ioc);
  net::post(ioc, [&] {
    poller.reset();  // from inside io_context::poll, called by the poller
    rt.shutdown(stop_cause::stopped());
  });
  loop.run();
  EXPECT_EQ(poller, nullptr);
}

TEST(IoPollerMisuse, a_second_guest_is_refused) {
  stakker::runtime rt;
  stakker::loop::epoll_loop loop(rt);
  net::io_context ioc, other;
  stakker::asio::io_poller poller(loop, ioc);
  // The binding is refused first (one per runtime), before the loop is asked.
  EXPECT_THROW(stakker::asio::io_poller(loop, other), std::logic_error);
}

// --- An io_context on its own thread ---------------------------------------------------------

struct IoContextThreadTest : ::testing::Test {
  stakker::runtime rt;
  stakker::loop::epoll_loop loop{rt};
  net::io_context ioc;
  stakker::asio::io_binding binding{rt, ioc};
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);
  std::thread io_thread{[this] { ioc.run(); }};

  void TearDown() override { stop_io_thread(); }
  void stop_io_thread() {
    if (!io_thread.joinable()) return;
    work.reset();
    ioc.stop();
    io_thread.join();
  }
};

TEST_F(IoContextThreadTest, completions_from_the_io_thread_resume_tasks_on_the_runtime_thread) {
  const auto runtime_thread = std::this_thread::get_id();
  int on_runtime_thread = 0;
  auto body = [&]() -> task<void> {
    // A timer made from the runtime's executor lives on the io_context (its thread).
    for (int i = 0; i < 200; ++i) {
      net::steady_timer t(binding.get_executor(), 0ms);
      co_await t.async_wait(use_task);
      if (std::this_thread::get_id() == runtime_thread) ++on_runtime_thread;
    }
  };
  stakker::coro::spawn(rt, body(), stakker::ret_do<void>([&](std::optional<std::monostate> v) {
                         EXPECT_TRUE(v);
                         rt.shutdown(stop_cause::stopped());
                       }));
  loop.run();
  EXPECT_EQ(on_runtime_thread, 200);
}

TEST_F(IoContextThreadTest, socket_io_on_the_io_thread_feeds_tasks_on_the_runtime_thread) {
  net::local::stream_protocol::socket a(binding.get_executor()), b(ioc);
  net::local::connect_pair(a, b);
  // The peer echoes on the io thread with plain Asio handlers.
  std::vector<char> echo_buf(256);
  std::function<void()> echo = [&] {
    b.async_read_some(net::buffer(echo_buf), [&](stakker::asio::error_code ec, std::size_t n) {
      if (ec) return;
      net::async_write(b, net::buffer(echo_buf.data(), n),
                       [&](stakker::asio::error_code wec, std::size_t) {
                         if (!wec) echo();
                       });
    });
  };
  net::post(ioc, echo);
  std::size_t total = 0;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < 500; ++i) {
      char out[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', static_cast<char>(i % 128)};
      co_await net::async_write(a, net::buffer(out), use_task);
      char in[8];
      total += co_await net::async_read(a, net::buffer(in), use_task);
      EXPECT_EQ(in[7], out[7]);
    }
  };
  stakker::coro::spawn(rt, body(), stakker::ret_do<void>([&](std::optional<std::monostate> v) {
                         EXPECT_TRUE(v);
                         rt.shutdown(stop_cause::stopped());
                       }));
  loop.run();
  EXPECT_EQ(total, 500u * 8);
  net::post(ioc, [&] { b.close(); });
  stop_io_thread();
}

TEST_F(IoContextThreadTest, posts_from_the_io_thread_run_on_the_runtime_thread_in_order) {
  std::vector<int> order;
  std::thread::id ran_on;
  net::post(ioc, [&] {
    for (int i = 0; i < 100; ++i) {
      net::post(binding.get_executor(), [&, i] {
        order.push_back(i);
        ran_on = std::this_thread::get_id();
        if (i == 99) rt.shutdown(stop_cause::stopped());
      });
    }
  });
  loop.run();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

// Awaits `aw` (a ret_pipe's awaiter) with a counted local in the frame.
template <class Awaiter>
task<int> await_pipe(Awaiter aw, stakker::testing::counts* counts) {
  stakker::testing::counted local(*counts);
  co_return co_await std::move(aw);
}

TEST_F(IoContextThreadTest,
       async_spawn_losing_an_or_on_the_io_thread_is_dropped_on_the_runtime_thread) {
  using namespace net::experimental::awaitable_operators;
  stakker::testing::counts counts;
  auto pipe = stakker::coro::ret_pipe<int>(rt);  // never answered
  std::size_t index = 9;
  auto race = [&]() -> net::awaitable<void> {
    net::steady_timer t(ioc, 10ms);
    auto v = co_await (stakker::asio::async_spawn(binding.get_executor(),
                                                  await_pipe(std::move(pipe.first), &counts),
                                                  net::use_awaitable) ||
                       t.async_wait(net::use_awaitable));
    index = v.index();
  };
  // On the io thread: the cancellation is emitted there, and the handler runs there.
  net::co_spawn(ioc, race(), [&](std::exception_ptr e) {
    EXPECT_FALSE(e);
    net::post(binding.get_executor(), [&] { rt.shutdown(stop_cause::stopped()); });
  });
  const auto start = clock::now();
  loop.run();
  EXPECT_LT(since(start), 2s);
  EXPECT_EQ(index, 1u);            // the timer won (read after the inbox's hand-over)
  EXPECT_TRUE(counts.balanced());  // the task was dropped, on this thread
}

struct sleeper {
  static sleeper init(stakker::cx<sleeper>& cx, net::steady_timer* t, bool* resumed) {
    stakker::coro::spawn(cx, wait(t, resumed), stakker::ret_nop<void>());
    return {};
  }
  static task<void> wait(net::steady_timer* t, bool* resumed) {
    co_await t->async_wait(use_task);
    *resumed = true;
  }
  void stop(stakker::cx<sleeper>& cx) { cx.stop(); }
};

TEST_F(IoContextThreadTest, stopping_an_actor_cancels_its_wait_on_the_io_thread) {
  net::steady_timer t(binding.get_executor(), 1h);
  bool resumed = false;
  auto s = stakker::make_actor<&sleeper::init>(rt, stakker::ret_nop<stop_cause>(), &t, &resumed);
  loop.turn(0ms);  // the task now waits on the timer
  stakker::call<&sleeper::stop>(s);
  loop.turn(0ms);
  // The hour-long wait was cancelled: the io thread's context runs out of work once the
  // guard goes, so the thread ends promptly.
  const auto start = clock::now();
  work.reset();
  io_thread.join();
  EXPECT_LT(since(start), 2s);
  loop.turn(0ms);
  EXPECT_FALSE(resumed);
}

}  // namespace
