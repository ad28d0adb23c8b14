// SPDX-License-Identifier: MIT OR Apache-2.0
// fwd → stream (docs/design.md, "Push and pull"): fwd_stream (drop
// mode) and fwd_stream_result (result mode), with `more` for refills (contracts K2, K3).
#include "stakker/coro/fwd_stream.hpp"

#include <gtest/gtest.h>

#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/call.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor_own;
using stakker::core;
using stakker::cx;
using stakker::fwd;
using stakker::fwd_do;
using stakker::fwd_to;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::coro::fwd_stream;
using stakker::coro::fwd_stream_result;
using stakker::coro::spawn;
using stakker::coro::task;
using stakker::testing::counted;
using stakker::testing::counts;

using events = std::vector<std::string>;
using producer_fwd = fwd<std::optional<int>>;

using coro_test::run;

// What a reading task saw: each value as its number, "fail" for a failed item, "end" for
// the end; whether it ran past its last await; the reader's high-water mark at the end.
struct reading {
  events seen;
  int reads = 0;  // values taken so far
  bool after = false;
  std::size_t high_water = 0;
};

// Drop mode: reads until nullopt.
template <class Reader>
task<int> read_all(Reader rd, reading* out, counts* k) {
  counted local(*k);
  int total = 0;
  while (auto v = co_await rd.next()) {
    out->seen.push_back(std::to_string(*v));
    ++out->reads;
    total += *v;
  }
  out->seen.emplace_back("end");
  out->high_water = rd.high_water_mark();
  out->after = true;
  co_return total;
}

// Result mode: reads until the end, past a failed item.
template <class Reader>
task<int> read_all_results(Reader rd, reading* out, counts* k) {
  counted local(*k);
  int total = 0;
  for (;;) {
    auto item = co_await rd.next();
    if (item.ended()) break;
    if (item.failed()) {
      out->seen.emplace_back("fail");
      continue;
    }
    out->seen.push_back(std::to_string(item.value()));
    ++out->reads;
    total += item.value();
  }
  out->seen.emplace_back("end");
  out->high_water = rd.high_water_mark();
  out->after = true;
  co_return total;
}

// How a spawn answered.
struct answer {
  int calls = 0;
  std::optional<int> value;
};
ret<int> answer_into(answer& a) {
  return ret_do<int>([&a](std::optional<int> v) {
    ++a.calls;
    a.value = v;
  });
}

events numbers_then_end(int from, int to) {
  events out;
  for (int i = from; i < to; ++i) out.push_back(std::to_string(i));
  out.emplace_back("end");
  return out;
}

// What a producer was asked: one entry per `more` call, the number of values it had sent
// but the reader had not yet taken (so 0 means "called when the buffer was empty").
struct producer_log {
  std::vector<int> unread_at_more;
};

// A producer actor: each `more` sends the next batch, or the end once everything is sent.
struct batch_producer {
  producer_fwd out;
  int next = 0;
  int total = 0;
  int batch = 0;
  const reading* reader = nullptr;
  producer_log* log = nullptr;

  static batch_producer init(cx<batch_producer>&, int total, int batch, const reading* r,
                             producer_log* log) {
    batch_producer p;
    p.total = total;
    p.batch = batch;
    p.reader = r;
    p.log = log;
    return p;
  }
  int batches_left = -1;  // stops itself when asked for more after this many (-1: never)

  void attach(cx<batch_producer>&, producer_fwd f) { out = std::move(f); }
  void stop_after(cx<batch_producer>&, int batches) { batches_left = batches; }
  void more(cx<batch_producer>& x, std::monostate) {
    log->unread_at_more.push_back(next - reader->reads);
    if (batches_left == 0) {
      x.stop();  // its state, and so its fwd, go when this call returns
      return;
    }
    if (batches_left > 0) --batches_left;
    if (next == total) {
      out(std::nullopt);
      return;
    }
    for (int i = 0; i < batch && next < total; ++i) out(next++);
  }
};

// The same producer as a plain closure: `more` then refills synchronously, inside next().
struct closure_producer {
  std::optional<producer_fwd> out;
  int next = 0;
  int total = 0;
  int batch = 0;
  const reading* reader = nullptr;
  producer_log log;

  fwd<> more() {
    return fwd_do<void>([this] {
      log.unread_at_more.push_back(next - reader->reads);
      if (next == total) {
        (*out)(std::nullopt);
        return;
      }
      for (int i = 0; i < batch && next < total; ++i) (*out)(next++);
    });
  }
};

// Another library's coroutine: eager, self-destroying, no chain of ours to drop.
struct eager {
  struct promise_type {
    eager get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }
  };
};

template <class Reader>
eager foreign_reader(Reader rd, events* out) {
  try {
    while (auto v = co_await rd.next()) out->push_back(std::to_string(*v));
    out->emplace_back("end");
  } catch (const stakker::coro::task_dropped&) {
    out->emplace_back("task_dropped");
  }
}

// An actor whose tasks are tied to it.
struct host {
  static host init(cx<host>&) { return {}; }
  void start(cx<host>& x, task<int> t, ret<int> r) { spawn(x, std::move(t), std::move(r)); }
};

}  // namespace

// --- drop mode ---

TEST(fwd_stream, a_preloaded_stream_gives_every_value_then_nullopt_without_asking_for_more) {
  runtime rt;
  int more_calls = 0;
  auto [rd, f] = fwd_stream<int>(rt, fwd_do<void>([&more_calls] { ++more_calls; }));
  for (int i = 0; i < 5; ++i) f(i);
  f(std::nullopt);
  reading r;
  counts k;
  answer a;
  spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(0, 5));
  EXPECT_EQ(r.high_water, 5u);
  EXPECT_EQ(more_calls, 0);
  EXPECT_EQ(a.value, 10);
  EXPECT_TRUE(k.balanced());
}

TEST(fwd_stream, as_generator_gives_the_streams_values_as_an_async_generator_and_asks_for_more) {
  runtime rt;
  producer_fwd sink;
  int next_value = 0;
  // One value per `more`, then the end: the generator pulls through the stream.
  auto [rd, f] = fwd_stream<int>(rt, fwd_do<void>([&] {
                                   if (next_value < 4)
                                     sink(next_value++);
                                   else
                                     sink(std::nullopt);
                                 }));
  sink = f;
  std::vector<std::optional<int>> got;
  stakker::coro::spawn_stream(
      rt, stakker::coro::as_generator(std::move(rd)),
      fwd_do<std::optional<int>>([&](std::optional<int> v) { got.push_back(v); }));
  run(rt);
  EXPECT_EQ(got, (std::vector<std::optional<int>>{0, 1, 2, 3, std::nullopt}));
}

TEST(fwd_stream, refills_in_batches_of_16_from_a_producer_actor_each_time_the_buffer_empties) {
  runtime rt;
  reading r;
  producer_log plog;
  actor_own<batch_producer> p =
      make_actor<&batch_producer::init>(rt, ret_nop<stop_cause>(), 64, 16, &r, &plog);
  auto [rd, f] = fwd_stream<int>(rt, fwd_to<void, &batch_producer::more>(p.ref()));
  stakker::call<&batch_producer::attach>(p, std::move(f));
  counts k;
  answer a;
  spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(0, 64));
  // Asked once at the start, once after each batch of 16, the last time for the end; each
  // time with nothing left unread.
  EXPECT_EQ(plog.unread_at_more, (std::vector<int>{0, 0, 0, 0, 0}));
  EXPECT_EQ(r.high_water, 16u);
  EXPECT_EQ(a.value, 64 * 63 / 2);
  EXPECT_TRUE(k.balanced());
}

TEST(fwd_stream, refills_in_batches_of_16_from_a_closure_called_inside_next) {
  runtime rt;
  reading r;
  closure_producer prod;
  prod.total = 40;
  prod.batch = 16;
  prod.reader = &r;
  auto [rd, f] = fwd_stream<int>(rt, prod.more());
  prod.out = std::move(f);
  counts k;
  answer a;
  spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(0, 40));
  EXPECT_EQ(prod.log.unread_at_more, (std::vector<int>{0, 0, 0, 0}));  // 16, 16, 8, end
  EXPECT_EQ(r.high_water, 16u);
  EXPECT_EQ(a.value, 40 * 39 / 2);
  prod.out.reset();
  EXPECT_TRUE(k.balanced());
}

TEST(fwd_stream, one_value_per_more_makes_a_pull_pipe_with_a_high_water_mark_of_1) {
  runtime rt;
  reading r;
  producer_log plog;
  actor_own<batch_producer> p =
      make_actor<&batch_producer::init>(rt, ret_nop<stop_cause>(), 10, 1, &r, &plog);
  auto [rd, f] = fwd_stream<int>(rt, fwd_to<void, &batch_producer::more>(p.ref()));
  stakker::call<&batch_producer::attach>(p, std::move(f));
  counts k;
  answer a;
  spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(0, 10));
  EXPECT_EQ(plog.unread_at_more, std::vector<int>(11, 0));  // ten values, then the end
  EXPECT_EQ(r.high_water, 1u);
  EXPECT_EQ(a.value, 45);
}

TEST(fwd_stream, values_sent_while_the_reader_waits_wake_it_through_the_queue) {
  runtime rt;
  auto [rd, f] = fwd_stream<int>(rt);
  reading r;
  counts k;
  answer a;
  spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_TRUE(r.seen.empty());
  f(1);
  f(2);
  EXPECT_TRUE(r.seen.empty());  // never inline
  run(rt);
  EXPECT_EQ(r.seen, (events{"1", "2"}));
  producer_fwd copy = f;  // any copy feeds the same stream
  copy(3);
  copy(std::nullopt);
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(1, 4));
  EXPECT_EQ(a.value, 6);
}

TEST(fwd_stream,
     values_after_the_end_are_ignored_and_dropping_the_fwd_after_the_end_is_no_failure) {
  runtime rt;
  std::optional<producer_fwd> f;
  reading r;
  counts k;
  answer a;
  {
    auto [rd, ff] = fwd_stream<int>(rt);
    f = std::move(ff);
    spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  }
  (*f)(7);
  (*f)(std::nullopt);
  (*f)(8);
  (*f)(std::nullopt);
  f.reset();
  run(rt);
  EXPECT_EQ(r.seen, (events{"7", "end"}));
  EXPECT_EQ(a.value, 7);
  EXPECT_TRUE(r.after);
}

TEST(fwd_stream, dropping_one_copy_of_the_fwd_while_another_remains_does_not_end_the_stream) {
  runtime rt;
  auto [rd, f] = fwd_stream<int>(rt);
  reading r;
  counts k;
  answer a;
  spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  {
    producer_fwd copy = f;
    copy(1);
  }
  run(rt);
  EXPECT_EQ(r.seen, (events{"1"}));
  EXPECT_EQ(a.calls, 0);
  f(std::nullopt);
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(1, 2));
  EXPECT_EQ(a.value, 1);
}

TEST(fwd_stream, the_last_fwd_dropped_while_the_reader_waits_drops_the_reading_task) {
  runtime rt;
  std::optional<producer_fwd> f;
  reading r;
  counts k;
  answer a;
  {
    auto [rd, ff] = fwd_stream<int>(rt);
    f = std::move(ff);
    spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  }
  (*f)(1);
  (*f)(2);
  run(rt);
  EXPECT_EQ(r.seen, (events{"1", "2"}));
  EXPECT_EQ(k.alive(), 1);
  f.reset();  // the producer goes before the end
  run(rt);
  EXPECT_EQ(r.seen, (events{"1", "2"}));
  EXPECT_FALSE(r.after);  // nothing after the co_await ran
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(a.calls, 1);  // the spawn's ret answered "none"
  EXPECT_EQ(a.value, std::nullopt);
}

TEST(fwd_stream, the_last_fwd_dropped_with_values_buffered_drops_the_task_after_it_read_them) {
  runtime rt;
  reading r;
  counts k;
  answer a;
  {
    auto [rd, f] = fwd_stream<int>(rt);
    f(1);
    f(2);
    f(3);
    spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  }  // the only fwd goes here, before the reader has started
  run(rt);
  EXPECT_EQ(r.seen, (events{"1", "2", "3"}));
  EXPECT_FALSE(r.after);
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.value, std::nullopt);
}

TEST(fwd_stream, a_producer_actor_that_stops_before_the_end_drops_the_reading_task) {
  runtime rt;
  reading r;
  producer_log plog;
  actor_own<batch_producer> p =
      make_actor<&batch_producer::init>(rt, ret_nop<stop_cause>(), 100, 16, &r, &plog);
  stakker::call<&batch_producer::stop_after>(p, 2);
  auto [rd, f] = fwd_stream<int>(rt, fwd_to<void, &batch_producer::more>(p.ref()));
  stakker::call<&batch_producer::attach>(p, std::move(f));  // it holds the only fwd
  counts k;
  answer a;
  spawn(rt, read_all(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_EQ(r.reads, 32);  // two batches, then the producer stopped (its fwd went with it)
  EXPECT_EQ(r.seen.back(), "31");
  EXPECT_FALSE(r.after);
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.value, std::nullopt);
}

TEST(fwd_stream, destroying_the_reader_makes_later_fwd_calls_no_ops) {
  runtime rt;
  int more_calls = 0;
  std::optional<producer_fwd> f;
  {
    auto [rd, ff] = fwd_stream<int>(rt, fwd_do<void>([&more_calls] { ++more_calls; }));
    f = std::move(ff);
    (*f)(1);
  }  // the reader is destroyed with a value still buffered
  (*f)(2);
  producer_fwd copy = *f;
  copy(3);
  copy(std::nullopt);
  (*f)(4);
  f.reset();
  run(rt);
  EXPECT_EQ(more_calls, 0);
}

TEST(fwd_stream, destroying_the_reading_task_while_it_waits_makes_later_fwd_calls_no_ops) {
  runtime rt;
  int more_calls = 0;
  reading r;
  counts k;
  answer a;
  actor_own<host> h = make_actor<&host::init>(rt, ret_nop<stop_cause>());
  auto [rd, f] = fwd_stream<int>(rt, fwd_do<void>([&more_calls] { ++more_calls; }));
  stakker::call<&host::start>(h, read_all(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  f(1);
  run(rt);
  EXPECT_EQ(r.seen, (events{"1"}));
  const int asked = more_calls;
  EXPECT_GE(asked, 1);
  h.kill("reader's actor stopped");  // the task, and its reader, are destroyed where it waits
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.value, std::nullopt);
  f(2);
  f(std::nullopt);
  f(3);
  run(rt);
  EXPECT_EQ(r.seen, (events{"1"}));
  EXPECT_EQ(more_calls, asked);  // `more` is never called again
  EXPECT_TRUE(k.balanced());
}

TEST(fwd_stream, a_fwd_that_outlives_the_runtime_is_a_harmless_no_op) {
  std::optional<producer_fwd> f;
  counts k;
  reading r;
  {
    runtime rt;
    auto [rd, ff] = fwd_stream<int>(rt);
    f = std::move(ff);
    spawn(rt, read_all(std::move(rd), &r, &k), ret_nop<int>());
    run(rt);
    (*f)(1);
    run(rt);
  }  // the reading task is dropped with the runtime
  EXPECT_TRUE(k.balanced());
  (*f)(2);
  (*f)(std::nullopt);
  f.reset();
  EXPECT_EQ(r.seen, (events{"1"}));
}

TEST(fwd_stream, carries_counted_values_each_destroyed_exactly_once) {
  runtime rt;
  counts values;
  std::optional<fwd<std::optional<counted>>> f;
  std::vector<int> seen;
  {
    auto [rd, ff] = fwd_stream<counted>(rt);
    f = std::move(ff);
    spawn(
        rt,
        [](auto reader, std::vector<int>* out) -> task<void> {
          while (auto v = co_await reader.next()) out->push_back(v->value());
        }(std::move(rd), &seen),
        ret_nop<void>());
  }
  for (int i = 0; i < 3; ++i) (*f)(counted(values, i));
  run(rt);
  (*f)(counted(values, 3));  // buffered, never read: destroyed with the reader
  f.reset();                 // drop mode: the task is dropped after reading what was buffered
  run(rt);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(values.balanced());
}

TEST(fwd_stream, a_reader_in_another_librarys_coroutine_gets_task_dropped_when_the_fwd_goes_early) {
  runtime rt;
  events seen;
  std::optional<producer_fwd> f;
  {
    auto [rd, ff] = fwd_stream<int>(rt);
    f = std::move(ff);
    foreign_reader(std::move(rd), &seen);  // runs until its first await, then waits
  }
  (*f)(1);
  run(rt);
  EXPECT_EQ(seen, (events{"1"}));
  f.reset();  // no chain to drop: the failure surfaces as an exception at the await
  run(rt);
  EXPECT_EQ(seen, (events{"1", "task_dropped"}));
}

// --- result mode ---

TEST(fwd_stream_result, a_preloaded_stream_gives_every_value_then_the_end) {
  runtime rt;
  int more_calls = 0;
  auto [rd, f] = fwd_stream_result<int>(rt, fwd_do<void>([&more_calls] { ++more_calls; }));
  for (int i = 0; i < 5; ++i) f(i);
  f(std::nullopt);
  reading r;
  counts k;
  answer a;
  spawn(rt, read_all_results(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(0, 5));
  EXPECT_EQ(more_calls, 0);
  EXPECT_EQ(a.value, 10);
  EXPECT_TRUE(k.balanced());
}

TEST(fwd_stream_result,
     refills_in_batches_of_16_from_a_producer_actor_each_time_the_buffer_empties) {
  runtime rt;
  reading r;
  producer_log plog;
  actor_own<batch_producer> p =
      make_actor<&batch_producer::init>(rt, ret_nop<stop_cause>(), 48, 16, &r, &plog);
  auto [rd, f] = fwd_stream_result<int>(rt, fwd_to<void, &batch_producer::more>(p.ref()));
  stakker::call<&batch_producer::attach>(p, std::move(f));
  counts k;
  answer a;
  spawn(rt, read_all_results(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(0, 48));
  EXPECT_EQ(plog.unread_at_more, (std::vector<int>{0, 0, 0, 0}));
  EXPECT_EQ(r.high_water, 16u);
}

TEST(fwd_stream_result, one_value_per_more_makes_a_pull_pipe_with_a_high_water_mark_of_1) {
  runtime rt;
  reading r;
  closure_producer prod;
  prod.total = 6;
  prod.batch = 1;
  prod.reader = &r;
  auto [rd, f] = fwd_stream_result<int>(rt, prod.more());
  prod.out = std::move(f);
  counts k;
  answer a;
  spawn(rt, read_all_results(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  EXPECT_EQ(r.seen, numbers_then_end(0, 6));
  EXPECT_EQ(prod.log.unread_at_more, std::vector<int>(7, 0));
  EXPECT_EQ(r.high_water, 1u);
  prod.out.reset();
}

TEST(fwd_stream_result,
     the_last_fwd_dropped_early_gives_the_values_then_one_failed_item_then_the_end) {
  runtime rt;
  std::optional<producer_fwd> f;
  reading r;
  counts k;
  answer a;
  {
    auto [rd, ff] = fwd_stream_result<int>(rt);
    f = std::move(ff);
    spawn(rt, read_all_results(std::move(rd), &r, &k), answer_into(a));
  }
  (*f)(1);
  (*f)(2);
  run(rt);
  (*f)(3);
  f.reset();
  run(rt);
  EXPECT_EQ(r.seen, (events{"1", "2", "3", "fail", "end"}));
  EXPECT_TRUE(r.after);  // the task goes on
  EXPECT_EQ(a.value, 6);
  EXPECT_TRUE(k.balanced());
}

TEST(fwd_stream_result,
     a_producer_actor_that_stops_before_the_end_gives_one_failed_item_then_the_end) {
  runtime rt;
  reading r;
  producer_log plog;
  actor_own<batch_producer> p =
      make_actor<&batch_producer::init>(rt, ret_nop<stop_cause>(), 100, 16, &r, &plog);
  stakker::call<&batch_producer::stop_after>(p, 1);
  auto [rd, f] = fwd_stream_result<int>(rt, fwd_to<void, &batch_producer::more>(p.ref()));
  stakker::call<&batch_producer::attach>(p, std::move(f));
  counts k;
  answer a;
  spawn(rt, read_all_results(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  events expected = numbers_then_end(0, 16);
  expected.insert(expected.end() - 1, "fail");
  EXPECT_EQ(r.seen, expected);
  EXPECT_TRUE(r.after);
  EXPECT_EQ(a.value, 16 * 15 / 2);
  EXPECT_TRUE(k.balanced());
}

TEST(fwd_stream_result, a_fwd_dropped_before_anything_was_sent_gives_one_failed_item_then_the_end) {
  runtime rt;
  reading r;
  counts k;
  answer a;
  {
    auto [rd, f] = fwd_stream_result<int>(rt);
    spawn(rt, read_all_results(std::move(rd), &r, &k), answer_into(a));
  }
  run(rt);
  EXPECT_EQ(r.seen, (events{"fail", "end"}));
  EXPECT_EQ(a.value, 0);
}

TEST(fwd_stream_result, the_failed_item_comes_once_and_the_end_after_it_every_time) {
  runtime rt;
  std::vector<std::string> seen;
  {
    auto [rd, f] = fwd_stream_result<int>(rt);
    f(5);
    spawn(
        rt,
        [](auto reader, std::vector<std::string>* out) -> task<void> {
          for (int i = 0; i < 4; ++i) {
            auto item = co_await reader.next();
            if (item.ended()) {
              out->emplace_back("end");
            } else if (item.failed()) {
              out->emplace_back("fail");
            } else {
              out->push_back(std::to_string(item.value()));
            }
          }
        }(std::move(rd), &seen),
        ret_nop<void>());
  }
  run(rt);
  EXPECT_EQ(seen, (std::vector<std::string>{"5", "fail", "end", "end"}));
}

TEST(fwd_stream_result, a_clean_end_gives_no_failed_item) {
  runtime rt;
  reading r;
  counts k;
  answer a;
  {
    auto [rd, f] = fwd_stream_result<int>(rt);
    spawn(rt, read_all_results(std::move(rd), &r, &k), answer_into(a));
    f(4);
    f(std::nullopt);
  }  // dropped after the end: no failure
  run(rt);
  EXPECT_EQ(r.seen, (events{"4", "end"}));
}

TEST(fwd_stream_result, destroying_the_reading_task_while_it_waits_makes_later_fwd_calls_no_ops) {
  runtime rt;
  reading r;
  counts k;
  answer a;
  actor_own<host> h = make_actor<&host::init>(rt, ret_nop<stop_cause>());
  auto [rd, f] = fwd_stream_result<int>(rt);
  stakker::call<&host::start>(h, read_all_results(std::move(rd), &r, &k), answer_into(a));
  run(rt);
  h.kill("reader's actor stopped");
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.value, std::nullopt);
  f(1);
  f(std::nullopt);
  run(rt);
  EXPECT_TRUE(r.seen.empty());
}
