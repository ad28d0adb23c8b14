// SPDX-License-Identifier: MIT OR Apache-2.0
// K2: a long run of immediately-ready awaits in one task cannot overflow the stack, even at
// -O0 and under ASan, where g++ does not compile symmetric transfer as a tail call: the
// bridge bounds the transfer depth and bounces through the runtime queue.
#include <gtest/gtest.h>

#include <optional>
#include <utility>

#include "stakker/coro/coro.hpp"
#include "stakker/runtime.hpp"

namespace {

using stakker::core;
using stakker::ret;
using stakker::ret_do;
using stakker::runtime;
using stakker::coro::pull;
using stakker::coro::ret_pipe;
using stakker::coro::ret_pipe_result;
using stakker::coro::spawn;
using stakker::coro::task;

// 10M awaits in the two main tests, in every build: each takes about 5-6 s with g++ 12 at
// -O0 and 5-11 s under ASan+UBSan (2-vCPU guest, depending on load), well under the ~20 s
// at which the count would be lowered for sanitizers. The variants below use a tenth of it.
// (Checked: with max_transfer_depth made unbounded, the first test dies of a stack overflow
// at -O0.)
constexpr long many = 10'000'000;

// Runs the runtime until `got` is set (the bounces all run within one run).
template <class T>
std::optional<T> run_to_answer(runtime& rt, task<T> t) {
  std::optional<T> got;
  int answers = 0;
  spawn(rt, std::move(t), ret_do<T>([&](std::optional<T> v) {
          ++answers;
          got = v;
        }));
  rt.run(rt.now(), false);
  EXPECT_EQ(answers, 1);
  return got;
}

task<int> ready_child(int v) { co_return v; }

task<long> await_ready_children(long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) sum += co_await ready_child(1);
  co_return sum;
}

task<long> await_answered_pipes(core& c, long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) {
    auto [aw, r] = ret_pipe<int>(c);
    r(1);
    sum += co_await std::move(aw);
  }
  co_return sum;
}

task<long> await_answered_result_pipes(core& c, long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) {
    auto [aw, r] = ret_pipe_result<int>(c);
    if (i % 2 == 0)
      r(1);
    else
      r.reset();  // result mode: a dropped ret is ready too (actor_fail)
    sum += (co_await std::move(aw)).value_or(0);
  }
  co_return sum;
}

task<long> await_answered_pulls(core& c, long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i)
    sum += co_await pull<int>(c, ret_do<ret<int>>([](std::optional<ret<int>> r) { (*r)(1); }));
  co_return sum;
}

// A child that itself awaits a ready child: two levels of transfers per outer await.
task<int> ready_grandchild(int v) { co_return co_await ready_child(v); }

task<long> await_two_level_children(long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) sum += co_await ready_grandchild(1);
  co_return sum;
}

// Nested `depth` frames deep, each awaiting the next; the innermost is ready at once.
task<long> recurse(long depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await recurse(depth - 1);
}

}  // namespace

TEST(coro_stack, many_awaits_of_child_tasks_that_return_at_once_do_not_overflow_the_stack) {
  runtime rt;
  EXPECT_EQ(run_to_answer(rt, await_ready_children(many)), many);
}

TEST(coro_stack, many_awaits_of_ret_pipes_already_answered_do_not_overflow_the_stack) {
  runtime rt;
  EXPECT_EQ(run_to_answer(rt, await_answered_pipes(rt, many)), many);
}

TEST(coro_stack, many_awaits_of_result_pipes_already_answered_or_dropped_do_not_overflow) {
  runtime rt;
  EXPECT_EQ(run_to_answer(rt, await_answered_result_pipes(rt, many / 10)), many / 20);
}

TEST(coro_stack, many_awaits_of_pulls_answered_at_once_do_not_overflow_the_stack) {
  runtime rt;
  EXPECT_EQ(run_to_answer(rt, await_answered_pulls(rt, many / 10)), many / 10);
}

TEST(coro_stack, many_awaits_of_two_level_ready_children_do_not_overflow_the_stack) {
  runtime rt;
  EXPECT_EQ(run_to_answer(rt, await_two_level_children(many / 10)), many / 10);
}

TEST(coro_stack, a_chain_of_tasks_nested_a_hundred_thousand_deep_does_not_overflow_the_stack) {
  runtime rt;
  EXPECT_EQ(run_to_answer(rt, recurse(100'000)), 100'000);
}
