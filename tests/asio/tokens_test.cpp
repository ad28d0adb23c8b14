// SPDX-License-Identifier: MIT OR Apache-2.0
// use_ret and use_fwd: values, errors, and cancellation when the owning actor stops.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "asio/asio_support.hpp"
#include "stakker/stakker.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::asio::error_code;
using stakker::asio::use_fwd;
using stakker::asio::use_ret;
using read_result = std::tuple<error_code, std::size_t>;

using TokensTest = asio_test::io_loop_test;

// An actor that waits on timers and sockets with the actor-tied tokens.
struct waiter {
  std::vector<std::string>* log;
  static waiter init(stakker::cx<waiter>&, std::vector<std::string>* l) { return waiter{l}; }

  void wait_on(stakker::cx<waiter>& cx, net::steady_timer* t) {
    t->async_wait(use_ret(cx, stakker::ret_to<error_code, &waiter::timer_done>(cx)));
  }
  void timer_done(stakker::cx<waiter>&, std::optional<error_code> ec) {
    log->push_back(!ec ? "none" : *ec ? "error" : "expired");
  }
  void read_from(stakker::cx<waiter>& cx, net::local::stream_protocol::socket* s, char* buf) {
    s->async_read_some(net::buffer(buf, 16),
                       use_fwd(cx, stakker::fwd_to<read_result, &waiter::got>(cx)));
  }
  void got(stakker::cx<waiter>&, read_result r) {
    log->push_back("read " + std::to_string(std::get<1>(r)));
  }
  void stop(stakker::cx<waiter>& cx) { cx.stop(); }
};

TEST_F(TokensTest, use_ret_delivers_an_error_as_a_value) {
  asio_test::answer<error_code> got;
  net::steady_timer t(ioc, 1h);
  t.async_wait(use_ret(rt, got.to()));
  net::post(ioc, [&] { t.cancel(); });
  run_until_out_of_work();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, net::error::operation_aborted);
}

TEST_F(TokensTest, use_ret_delivers_a_read_as_a_tuple_of_error_and_size) {
  net::local::stream_protocol::socket a(ioc), b(ioc);
  net::local::connect_pair(a, b);
  net::write(b, net::buffer("hello", 5));
  char buf[16];
  asio_test::answer<read_result> got;
  a.async_read_some(net::buffer(buf), use_ret(rt, got.to()));
  run_until_out_of_work();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_FALSE(std::get<0>(*got.value));
  EXPECT_EQ(std::get<1>(*got.value), 5u);
  EXPECT_EQ(std::string(buf, 5), "hello");
}

TEST_F(TokensTest, use_ret_delivers_end_of_stream_as_an_error_value) {
  net::local::stream_protocol::socket a(ioc), b(ioc);
  net::local::connect_pair(a, b);
  b.close();
  char buf[16];
  asio_test::answer<read_result> got;
  a.async_read_some(net::buffer(buf), use_ret(rt, got.to()));
  run_until_out_of_work();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(std::get<0>(*got.value), net::error::eof);
}

TEST_F(TokensTest, use_ret_without_a_core_takes_the_running_runtime) {
  asio_test::answer<error_code> got;
  net::steady_timer t(ioc, 1ms);
  net::post(loop.get_executor(), [&] { t.async_wait(use_ret(got.to())); });
  run_until_out_of_work();
  EXPECT_TRUE(got.once_with_value());
  EXPECT_THROW((void)use_ret(got.to()), std::logic_error);  // outside a run
}

TEST_F(TokensTest, use_ret_answers_none_when_the_io_context_drops_the_handler) {
  asio_test::answer<error_code> got;
  {
    net::io_context other;
    net::steady_timer t(other, 1h);
    t.async_wait(use_ret(rt, got.to()));
  }  // destroyed with the wait pending: the handler is destroyed uncalled
  EXPECT_TRUE(got.once_none());
}

TEST_F(TokensTest, an_actor_tied_ret_gets_the_timer_completion_as_an_actor_call) {
  std::vector<std::string> log;
  auto w = stakker::make_actor<&waiter::init>(rt, stakker::ret_nop<stakker::stop_cause>(), &log);
  net::steady_timer t(ioc, 1ms);
  stakker::call<&waiter::wait_on>(w, &t);
  loop.request_run();
  run_until_out_of_work();
  EXPECT_EQ(log, std::vector<std::string>{"expired"});
}

TEST_F(TokensTest, stopping_the_actor_cancels_its_pending_wait_promptly_and_delivers_nothing) {
  std::vector<std::string> log;
  asio_test::answer<stakker::stop_cause> stopped;
  auto w = stakker::make_actor<&waiter::init>(rt, stopped.to(), &log);
  net::steady_timer t(ioc, 1h);
  stakker::call<&waiter::wait_on>(w, &t);
  stakker::call<&waiter::stop>(w);
  loop.request_run();
  // The hour-long wait ends at once (operation_aborted), so the io_context runs out of work.
  EXPECT_LT(run_until_out_of_work(), 2s);
  EXPECT_TRUE(stopped.once_with_value());
  EXPECT_TRUE(log.empty());   // the ret answered "none" to a stopped actor: nothing ran
  EXPECT_EQ(t.cancel(), 0u);  // no wait left on the timer
}

TEST_F(TokensTest, use_fwd_delivers_each_read_of_a_repeated_operation) {
  std::vector<std::string> log;
  auto w = stakker::make_actor<&waiter::init>(rt, stakker::ret_nop<stakker::stop_cause>(), &log);
  net::local::stream_protocol::socket a(ioc), b(ioc);
  net::local::connect_pair(a, b);
  char buf[16];
  net::write(b, net::buffer("abc", 3));
  stakker::call<&waiter::read_from>(w, &a, buf);
  loop.request_run();
  run_until_out_of_work();
  net::write(b, net::buffer("de", 2));
  stakker::call<&waiter::read_from>(w, &a, buf);
  loop.request_run();
  run_until_out_of_work();
  EXPECT_EQ(log, (std::vector<std::string>{"read 3", "read 2"}));
}

TEST_F(TokensTest, use_fwd_delivers_a_timer_error_as_a_value) {
  std::vector<error_code> got;
  net::steady_timer t(ioc, 1h);
  t.async_wait(use_fwd(rt, stakker::fwd<error_code>([&](error_code ec) { got.push_back(ec); })));
  net::post(ioc, [&] { t.cancel(); });
  run_until_out_of_work();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], net::error::operation_aborted);
}

TEST_F(TokensTest, stopping_the_actor_cancels_its_pending_read) {
  std::vector<std::string> log;
  asio_test::answer<stakker::stop_cause> stopped;
  auto w = stakker::make_actor<&waiter::init>(rt, stopped.to(), &log);
  net::local::stream_protocol::socket a(ioc), b(ioc);
  net::local::connect_pair(a, b);
  char buf[16];
  stakker::call<&waiter::read_from>(w, &a, buf);
  stakker::call<&waiter::stop>(w);
  loop.request_run();
  EXPECT_LT(run_until_out_of_work(), 2s);  // the read no longer keeps the io_context busy
  EXPECT_TRUE(stopped.once_with_value());
  // Bytes written afterwards stay for the next reader: the cancelled read took nothing.
  net::write(b, net::buffer("xy", 2));
  asio_test::answer<read_result> next;
  a.async_read_some(net::buffer(buf), use_ret(rt, next.to()));
  run_until_out_of_work();
  ASSERT_TRUE(next.once_with_value());
  EXPECT_EQ(std::get<1>(*next.value), 2u);
  EXPECT_TRUE(log.empty());
}

TEST(TokensTeardown, a_handler_dropped_after_its_io_loop_is_gone_still_answers_none) {
  asio_test::answer<error_code> got;
  stakker::runtime rt;
  {
    net::io_context ioc;
    auto loop = std::make_unique<stakker::asio::io_loop>(ioc, rt);
    net::steady_timer t(ioc, 1h);
    t.async_wait(use_ret(rt, got.to()));
    t.cancel();    // the aborted completion waits in the io_context, never run
    loop.reset();  // the binding goes first
  }                // then the io_context destroys the handler (ASan: no use of the binding)
  EXPECT_TRUE(got.once_none());
}

TEST_F(TokensTest, a_plain_fwd_gets_nothing_when_the_handler_is_dropped) {
  int calls = 0;
  {
    net::io_context other;
    net::steady_timer t(other, 1h);
    t.async_wait(use_fwd(rt, stakker::fwd<error_code>([&](error_code) { ++calls; })));
  }
  rt.run(rt.now(), false);
  EXPECT_EQ(calls, 0);
}

// --- Every token: exactly once under a bare run, across stop and restart, and cancelled ---
// Each operation below holds outstanding work on `ioc` itself (an Asio timer), and its
// handler's executor is the runtime's: the completion is queued on the runtime, which
// io_loop runs inside the io_context's handler invocation.

TEST_F(TokensTest, a_use_ret_completion_is_delivered_once_under_a_bare_run) {
  asio_test::answer<error_code> got;
  net::steady_timer t(ioc, 5ms);
  t.async_wait(use_ret(rt, got.to()));
  ioc.run();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_FALSE(*got.value);
}

TEST_F(TokensTest,
       a_use_ret_completion_is_delivered_once_when_the_io_context_is_stopped_and_restarted) {
  asio_test::answer<error_code> got;
  net::steady_timer t(ioc, 20ms);
  t.async_wait(use_ret(rt, got.to()));
  net::post(ioc, [&] { ioc.stop(); });
  ioc.run();
  EXPECT_EQ(got.calls, 0);
  ioc.restart();
  ioc.run();
  ASSERT_TRUE(got.once_with_value());
  EXPECT_FALSE(*got.value);
}

TEST_F(TokensTest, a_use_ret_operation_cancelled_through_its_slot_delivers_operation_aborted_once) {
  asio_test::answer<error_code> got;
  net::cancellation_signal sig;
  net::steady_timer t(ioc, 1h);
  t.async_wait(net::bind_cancellation_slot(sig.slot(), use_ret(rt, got.to())));
  net::post(ioc, [&] { sig.emit(net::cancellation_type::terminal); });
  EXPECT_LT(run_until_out_of_work(), 2s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_EQ(*got.value, net::error::operation_aborted);
}

TEST_F(TokensTest, a_use_fwd_completion_is_delivered_once_under_a_bare_run) {
  std::vector<error_code> got;
  net::steady_timer t(ioc, 5ms);
  t.async_wait(use_fwd(rt, stakker::fwd<error_code>([&](error_code ec) { got.push_back(ec); })));
  ioc.run();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0]);
}

TEST_F(TokensTest,
       a_use_fwd_completion_is_delivered_once_when_the_io_context_is_stopped_and_restarted) {
  std::vector<error_code> got;
  net::steady_timer t(ioc, 20ms);
  t.async_wait(use_fwd(rt, stakker::fwd<error_code>([&](error_code ec) { got.push_back(ec); })));
  net::post(ioc, [&] { ioc.stop(); });
  ioc.run();
  EXPECT_TRUE(got.empty());
  ioc.restart();
  ioc.run();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0]);
}

TEST_F(TokensTest, a_use_fwd_operation_cancelled_through_its_slot_delivers_operation_aborted_once) {
  std::vector<error_code> got;
  net::cancellation_signal sig;
  net::steady_timer t(ioc, 1h);
  t.async_wait(net::bind_cancellation_slot(
      sig.slot(),
      use_fwd(rt, stakker::fwd<error_code>([&](error_code ec) { got.push_back(ec); }))));
  net::post(ioc, [&] { sig.emit(net::cancellation_type::terminal); });
  EXPECT_LT(run_until_out_of_work(), 2s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], net::error::operation_aborted);
}

// An actor whose operations are tied to it, optionally with a slot of the caller's own.
struct tied {
  std::vector<std::string>* log;
  static tied init(stakker::cx<tied>&, std::vector<std::string>* l) { return tied{l}; }

  void wait_ret(stakker::cx<tied>& cx, net::steady_timer* t, net::cancellation_signal* sig) {
    auto token = use_ret(cx, stakker::ret_to<error_code, &tied::on_ret>(cx));
    if (sig != nullptr) {
      t->async_wait(net::bind_cancellation_slot(sig->slot(), std::move(token)));
    } else {
      t->async_wait(std::move(token));
    }
  }
  void wait_fwd(stakker::cx<tied>& cx, net::steady_timer* t, net::cancellation_signal* sig) {
    auto token = use_fwd(cx, stakker::fwd_to<error_code, &tied::on_fwd>(cx));
    if (sig != nullptr) {
      t->async_wait(net::bind_cancellation_slot(sig->slot(), std::move(token)));
    } else {
      t->async_wait(std::move(token));
    }
  }
  void on_ret(stakker::cx<tied>&, std::optional<error_code> ec) {
    log->push_back(!ec ? "ret none" : *ec ? "ret " + ec->message() : "ret expired");
  }
  void on_fwd(stakker::cx<tied>&, error_code ec) {
    log->push_back(ec ? "fwd " + ec.message() : "fwd expired");
  }
};

struct TiedTokens : TokensTest {
  std::vector<std::string> log;
  stakker::actor_own<tied> a =
      stakker::make_actor<&tied::init>(rt, stakker::ret_nop<stakker::stop_cause>(), &log);
  std::string aborted = error_code(net::error::operation_aborted).message();
};

TEST_F(TiedTokens, an_actor_tied_ret_is_delivered_once_under_a_bare_run) {
  net::steady_timer t(ioc, 5ms);
  stakker::call<&tied::wait_ret>(a, &t, nullptr);
  loop.request_run();  // the call was queued from outside the runtime
  ioc.run();
  EXPECT_EQ(log, std::vector<std::string>{"ret expired"});
}

TEST_F(TiedTokens,
       an_actor_tied_ret_is_delivered_once_when_the_io_context_is_stopped_and_restarted) {
  net::steady_timer t(ioc, 20ms);
  stakker::call<&tied::wait_ret>(a, &t, nullptr);
  loop.request_run();
  net::post(ioc, [&] { ioc.stop(); });
  ioc.run();
  EXPECT_TRUE(log.empty());
  ioc.restart();
  ioc.run();
  EXPECT_EQ(log, std::vector<std::string>{"ret expired"});
}

TEST_F(TiedTokens,
       an_actor_tied_ret_cancelled_through_a_slot_of_its_own_delivers_operation_aborted_once) {
  net::steady_timer t(ioc, 1h);
  net::cancellation_signal sig;
  stakker::call<&tied::wait_ret>(a, &t, &sig);
  loop.request_run();
  net::post(ioc, [&] { sig.emit(net::cancellation_type::terminal); });
  EXPECT_LT(run_until_out_of_work(), 2s);
  EXPECT_EQ(log, std::vector<std::string>{"ret " + aborted});
}

TEST_F(TiedTokens, an_actor_tied_fwd_is_delivered_once_under_a_bare_run) {
  net::steady_timer t(ioc, 5ms);
  stakker::call<&tied::wait_fwd>(a, &t, nullptr);
  loop.request_run();
  ioc.run();
  EXPECT_EQ(log, std::vector<std::string>{"fwd expired"});
}

TEST_F(TiedTokens,
       an_actor_tied_fwd_is_delivered_once_when_the_io_context_is_stopped_and_restarted) {
  net::steady_timer t(ioc, 20ms);
  stakker::call<&tied::wait_fwd>(a, &t, nullptr);
  loop.request_run();
  net::post(ioc, [&] { ioc.stop(); });
  ioc.run();
  EXPECT_TRUE(log.empty());
  ioc.restart();
  ioc.run();
  EXPECT_EQ(log, std::vector<std::string>{"fwd expired"});
}

TEST_F(TiedTokens,
       an_actor_tied_fwd_cancelled_through_a_slot_of_its_own_delivers_operation_aborted_once) {
  net::steady_timer t(ioc, 1h);
  net::cancellation_signal sig;
  stakker::call<&tied::wait_fwd>(a, &t, &sig);
  loop.request_run();
  net::post(ioc, [&] { sig.emit(net::cancellation_type::terminal); });
  EXPECT_LT(run_until_out_of_work(), 2s);
  EXPECT_EQ(log, std::vector<std::string>{"fwd " + aborted});
}

// Regression: the caller's binder used to replace the bridge's slot, so the actor's stop no
// longer reached the operation, which then ran on for the hour.
TEST_F(TiedTokens,
       with_a_slot_of_its_own_an_actor_tied_operation_is_still_cancelled_by_the_actors_stop) {
  net::steady_timer t(ioc, 1h);
  net::cancellation_signal sig;
  stakker::call<&tied::wait_ret>(a, &t, &sig);
  stakker::call<&tied::wait_fwd>(a, &t, &sig);  // the signal's slot now holds the second one
  a.reset();                                    // the actor stops with its owner gone
  loop.request_run();
  EXPECT_LT(run_until_out_of_work(), 2s);
  EXPECT_EQ(log, std::vector<std::string>{});  // a stopped actor hears nothing
  EXPECT_EQ(t.cancel(), 0u);
  sig.emit(net::cancellation_type::terminal);  // cleared from the slot: nothing left to reach
}

// --- Callbacks run from the bridge's handlers: throwing, and destroying their owner ---------

TEST_F(TokensTest, a_ret_callback_that_throws_leaves_the_io_contexts_run_and_is_not_called_again) {
  stakker::testing::counts counts;
  int calls = 0;
  net::steady_timer t(ioc, 1ms);
  t.async_wait(use_ret(rt, stakker::ret_do<error_code>([&, c = stakker::testing::counted(counts)](
                                                           std::optional<error_code>) {
                         ++calls;
                         throw std::runtime_error("callback");
                       })));
  EXPECT_THROW(ioc.run(), std::runtime_error);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(counts.balanced());      // the callback was destroyed once, while unwinding
  asio_test::answer<error_code> next;  // the loop goes on
  net::steady_timer t2(ioc, 1ms);
  t2.async_wait(use_ret(rt, next.to()));
  ioc.restart();
  ioc.run();
  EXPECT_TRUE(next.once_with_value());
  EXPECT_EQ(calls, 1);
}

// Its method throws when the completion arrives.
struct thrower {
  static thrower init(stakker::cx<thrower>&) { return {}; }
  void wait(stakker::cx<thrower>& cx, net::steady_timer* t) {
    t->async_wait(use_fwd(cx, stakker::fwd_to<error_code, &thrower::boom>(cx)));
  }
  void boom(stakker::cx<thrower>&, error_code) { throw std::runtime_error("actor"); }
};

TEST_F(TokensTest, an_actor_method_that_throws_on_a_tied_completion_fails_the_actor_once) {
  std::vector<std::string> log;
  asio_test::answer<stakker::stop_cause> stopped;
  auto a = stakker::make_actor<&thrower::init>(rt, stopped.to());
  net::steady_timer t(ioc, 1ms);
  stakker::call<&thrower::wait>(a, &t);
  loop.request_run();
  run_until_out_of_work();
  ASSERT_TRUE(stopped.once_with_value());
  EXPECT_NE(stopped.value->kind(), stakker::stop_kind::stopped);  // a failure, not a stop
}

// The callback runs inside the runtime's run, which io_loop runs inside the io_context's
// handler invocation: the loop must not touch itself after that run.
TEST(TokensTeardown, a_ret_callback_may_destroy_the_io_loop_that_runs_it) {
  net::io_context ioc;
  stakker::runtime rt;
  auto loop = std::make_unique<stakker::asio::io_loop>(ioc, rt);
  int calls = 0;
  net::steady_timer t(ioc, 1ms);
  t.async_wait(use_ret(rt, stakker::ret_do<error_code>([&](std::optional<error_code> ec) {
                         ++calls;
                         EXPECT_TRUE(ec.has_value());
                         loop.reset();
                       })));
  rt.after(1h, [](stakker::core&) {});  // something after_run would have re-armed
  ioc.run_for(std::chrono::seconds(5));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(loop, nullptr);
}

// The same, from a plain closure that destroys the loop and then throws: the exception
// leaves the io_context's run, and nothing of the loop is touched on the way (ASan).
TEST(TokensTeardown, a_closure_may_destroy_the_io_loop_that_runs_it_and_then_throw) {
  net::io_context ioc;
  stakker::runtime rt;
  auto loop = std::make_unique<stakker::asio::io_loop>(ioc, rt);
  rt.defer([&](stakker::core&) {
    loop.reset();
    throw std::runtime_error("after the loop went");
  });
  loop->request_run();
  EXPECT_THROW(ioc.run_for(std::chrono::seconds(5)), std::runtime_error);
  EXPECT_EQ(loop, nullptr);
}

// Stops itself when the first of its two operations completes.
struct stopper {
  std::vector<std::string>* log;
  static stopper init(stakker::cx<stopper>&, std::vector<std::string>* l) { return {l}; }
  void wait(stakker::cx<stopper>& cx, net::steady_timer* fast, net::steady_timer* slow) {
    fast->async_wait(use_ret(cx, stakker::ret_to<error_code, &stopper::fast_done>(cx)));
    slow->async_wait(use_fwd(cx, stakker::fwd_to<error_code, &stopper::slow_done>(cx)));
  }
  void fast_done(stakker::cx<stopper>& cx, std::optional<error_code>) {
    log->push_back("fast");
    cx.stop();
  }
  void slow_done(stakker::cx<stopper>&, error_code) { log->push_back("slow"); }
};

TEST_F(TiedTokens, an_actor_that_stops_itself_in_a_tied_callback_cancels_its_other_operations) {
  asio_test::answer<stakker::stop_cause> stopped;
  auto s = stakker::make_actor<&stopper::init>(rt, stopped.to(), &log);
  net::steady_timer fast(ioc, 1ms), slow(ioc, 1h);
  stakker::call<&stopper::wait>(s, &fast, &slow);
  loop.request_run();
  EXPECT_LT(run_until_out_of_work(), 2s);  // the slow wait was cancelled
  EXPECT_EQ(log, std::vector<std::string>{"fast"});
  EXPECT_TRUE(stopped.once_with_value());
}

}  // namespace
