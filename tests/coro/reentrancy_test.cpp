// SPDX-License-Identifier: MIT OR Apache-2.0
// User code run from the bridge's own storage (docs/design.md): a spawn's completion
// ret, a task resumed by a wake node, when_all/when_any children and losers, a generator's
// reader, fwd_stream's `more`, a pull's request and spawn_stream's fwd. Each may modify that
// storage, throw, stop its own owner or stop the runtime's other users; these tests pin down
// what happens then (docs/coroutines.md "User code inside the bridge").
#include "stakker/coro/coro.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/call.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::actor_own;
using stakker::call;
using stakker::core;
using stakker::cx;
using stakker::fwd;
using stakker::fwd_do;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::coro::async_generator;
using stakker::coro::fwd_stream;
using stakker::coro::fwd_stream_result;
using stakker::coro::pull;
using stakker::coro::result;
using stakker::coro::ret_pipe;
using stakker::coro::sleep_for;
using stakker::coro::spawn;
using stakker::coro::spawn_result;
using stakker::coro::spawn_stream;
using stakker::coro::task;
using stakker::coro::when_all;
using stakker::coro::when_any;
using stakker::coro::with_timeout;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

using coro_test::answer;
using coro_test::run;

using int_pipe = decltype(ret_pipe<int>(std::declval<core&>()).first);

// An actor that spawns tasks tied to itself.
struct owner {
  static owner init(cx<owner>&) { return {}; }
  void start(cx<owner>& x, task<int> t, ret<int> r) { spawn(x, std::move(t), std::move(r)); }
  void start_void(cx<owner>& x, task<void> t) { spawn(x, std::move(t), ret_nop<void>()); }
  template <class T>
  void stream(cx<owner>& x, async_generator<T> g, fwd<std::optional<T>> out) {
    spawn_stream(x, std::move(g), std::move(out));
  }
};

actor_own<owner> make_owner(core& c, int* stopped = nullptr) {
  return make_actor<&owner::init>(c, ret_do<stop_cause>([stopped](std::optional<stop_cause>) {
                                    if (stopped != nullptr) ++*stopped;
                                  }));
}

// Waits on a pipe holding a counted local.
task<int> waits(int_pipe p, counts* k) {
  counted local(*k);
  co_return co_await std::move(p);
}

task<int> value_of(int v) { co_return v; }

// A local whose destructor runs `f` (user code run when a frame is destroyed).
struct on_destroy {
  std::function<void()> f;
  explicit on_destroy(std::function<void()> fn) : f(std::move(fn)) {}
  on_destroy(const on_destroy&) = delete;
  ~on_destroy() {
    if (f) f();
  }
};

}  // namespace

// --- a spawn's completion ret ---

// Each answer spawns the next task, up to `last`.
ret<int> spawn_next(runtime& rt, std::vector<int>& log, int last) {
  return ret_do<int>([&rt, &log, last](std::optional<int> v) {
    const int got = v.value_or(-1);
    log.push_back(got);
    if (got >= 0 && got < last) spawn(rt, value_of(got + 1), spawn_next(rt, log, last));
  });
}

TEST(spawn_completion, may_spawn_more_tasks_which_start_from_the_queue_in_the_same_run) {
  runtime rt;
  std::vector<int> log;
  spawn(rt, value_of(1), spawn_next(rt, log, 3));
  run(rt);
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
}

TEST(spawn_completion, may_stop_the_actor_that_owned_the_task) {
  runtime rt;
  int stopped = 0;
  actor_own<owner> a = make_owner(rt, &stopped);
  answer<int> got;
  call<&owner::start>(a, value_of(4), ret_do<int>([&](std::optional<int> v) {
                        got.calls++;
                        got.value = v;
                        a.kill("stopped by the completion");
                      }));
  run(rt);
  EXPECT_TRUE(got.once_with_value());
  EXPECT_EQ(stopped, 1);
}

TEST(spawn_completion, may_stop_another_actor_whose_waiting_task_is_destroyed_there_once) {
  runtime rt;
  counts k;
  actor_own<owner> other = make_owner(rt);
  auto [aw, r] = ret_pipe<int>(rt);
  answer<int> other_answer;
  call<&owner::start>(other, waits(std::move(aw), &k), other_answer.to());
  run(rt);
  EXPECT_EQ(k.alive(), 1);
  long alive_after_kill = -1;
  spawn(rt, value_of(1), ret_do<int>([&](std::optional<int>) {
          other.kill("stopped by another task's completion");
          alive_after_kill = k.alive();
        }));
  run(rt);
  EXPECT_EQ(alive_after_kill, 0);  // destroyed inside the kill, before it returned
  EXPECT_TRUE(other_answer.once_none());
  r(5);  // disarmed
  run(rt);
  EXPECT_TRUE(k.balanced());
}

TEST(spawn_completion, a_none_answer_at_actor_stop_may_stop_other_actors_and_spawn_tasks) {
  runtime rt;
  counts k;
  actor_own<owner> first = make_owner(rt);
  actor_own<owner> second = make_owner(rt);
  auto [aw1, r1] = ret_pipe<int>(rt);
  auto [aw2, r2] = ret_pipe<int>(rt);
  answer<int> second_answer;
  answer<int> spawned;
  call<&owner::start>(first, waits(std::move(aw1), &k), ret_do<int>([&](std::optional<int>) {
                        second.kill("stopped by first's none");
                        spawn(rt, value_of(9), spawned.to());
                      }));
  call<&owner::start>(second, waits(std::move(aw2), &k), second_answer.to());
  run(rt);
  first.kill("stop");
  run(rt);
  EXPECT_TRUE(second_answer.once_none());
  EXPECT_TRUE(spawned.once_with_value());
  EXPECT_TRUE(k.balanced());
}

// A completion ret that throws: the exception leaves run() (tests/coro/spawn_answer_test.cpp).

// --- a task resumed from a wake node ---

TEST(task_resumption, a_task_that_stops_another_actor_destroys_that_actors_waiting_task_once) {
  runtime rt;
  counts k;
  actor_own<owner> other = make_owner(rt);
  auto [aw, r] = ret_pipe<int>(rt);
  answer<int> other_answer;
  call<&owner::start>(other, waits(std::move(aw), &k), other_answer.to());
  answer<int> mine;
  spawn(
      rt,
      [](actor_own<owner>* o, counts* kk) -> task<int> {
        o->kill("stopped by a task");
        co_return static_cast<int>(kk->alive());
      }(&other, &k),
      mine.to());
  run(rt);
  EXPECT_EQ(mine.value, 0);
  EXPECT_TRUE(other_answer.once_none());
  EXPECT_TRUE(k.balanced());
}

TEST(task_resumption, a_task_that_stops_its_own_actor_goes_no_further_than_its_next_child_await) {
  runtime rt;
  actor_own<owner> a = make_owner(rt);
  std::vector<std::string> log;
  call<&owner::start_void>(a,
                           [](actor_own<owner>* own, std::vector<std::string>* out) -> task<void> {
                             own->kill("stopped by its own task");
                             out->push_back("killed");
                             // Each of these would complete without the queue: the chain must still
                             // stop here.
                             for (int i = 0; i < 10; ++i) {
                               int v = co_await value_of(i);
                               out->push_back(std::to_string(v));
                             }
                           }(&a, &log));
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"killed"}));
}

// --- when_all / when_any children ---

TEST(when_children, a_child_may_feed_a_siblings_pipe_and_spawn_tasks_while_it_runs) {
  runtime rt;
  answer<int> got;
  answer<int> spawned;
  spawn(
      rt,
      [](core& c, answer<int>* sp) -> task<int> {
        auto [aw, r] = ret_pipe<int>(c);
        auto feeder = [](ret<int> rr, core& cc, answer<int>* s) -> task<int> {
          rr(20);
          spawn(cc, value_of(7), s->to());
          co_return 1;
        };
        auto [a, b] = co_await when_all(feeder(std::move(r), c, sp), [](int_pipe p) -> task<int> {
          co_return co_await std::move(p);
        }(std::move(aw)));
        co_return a + b;
      }(rt, &spawned),
      got.to());
  run(rt);
  EXPECT_EQ(got.value, 21);
  EXPECT_TRUE(spawned.once_with_value());
}

TEST(when_children, a_loser_whose_destruction_stops_the_owning_actor_drops_the_chain_once) {
  runtime rt;
  counts k;
  int stopped = 0;
  actor_own<owner> a = make_owner(rt, &stopped);
  auto [aw, r] = ret_pipe<int>(rt);
  answer<int> got;
  bool after = false;
  call<&owner::start>(
      a,
      [](core& c, int_pipe p, actor_own<owner>* own, counts* kk, bool* past) -> task<int> {
        counted local(*kk);
        auto loser = [](int_pipe pp, actor_own<owner>* o, counts* k2) -> task<int> {
          counted l(*k2);
          on_destroy kill([o] { o->kill("stopped by a loser's destructor"); });
          co_return co_await std::move(pp);
        };
        auto v = co_await when_any(loser(std::move(p), own, kk), [](core& cc) -> task<int> {
          co_await sleep_for(cc, 0ms);
          co_return 1;
        }(c));
        *past = true;
        co_return static_cast<int>(v.index());
      }(rt, std::move(aw), &a, &k, &after),
      got.to());
  run(rt);
  EXPECT_EQ(stopped, 1);
  EXPECT_FALSE(after);  // dropped before the awaiting task went on
  EXPECT_TRUE(got.once_none());
  EXPECT_TRUE(k.balanced());
  r(1);
  run(rt);
}

TEST(when_children, a_child_that_stops_the_owning_actor_while_starting_drops_the_chain_once) {
  runtime rt;
  counts k;
  actor_own<owner> a = make_owner(rt);
  answer<int> got;
  std::vector<std::string> log;
  call<&owner::start>(
      a,
      [](actor_own<owner>* own, counts* kk, std::vector<std::string>* out) -> task<int> {
        counted local(*kk);
        auto killer = [](actor_own<owner>* o, std::vector<std::string>* lg) -> task<int> {
          o->kill("stopped by a child");
          lg->push_back("killer");
          co_return 1;
        };
        auto other = [](counts* k2, std::vector<std::string>* lg) -> task<int> {
          counted l(*k2);
          lg->push_back("other");
          co_return 2;
        };
        auto [x, y] = co_await when_all(killer(own, out), other(kk, out));
        out->push_back("after");
        co_return x + y;
      }(&a, &k, &log),
      got.to());
  run(rt);
  EXPECT_TRUE(got.once_none());
  EXPECT_EQ(log, (std::vector<std::string>{"killer"}));  // the second child never started
  EXPECT_TRUE(k.balanced());
}

// --- a generator's reader ---

async_generator<int> from_pipes(core& c, std::vector<ret<int>>* asks, counts* k) {
  counted local(*k);
  for (;;) {
    auto [aw, r] = ret_pipe<int>(c);
    asks->push_back(std::move(r));
    co_yield co_await std::move(aw);
  }
}

TEST(generator_reader,
     may_destroy_the_generator_while_it_waits_inside_an_abandoned_next_and_its_wake_does_nothing) {
  virtual_loop loop;
  counts k;
  std::vector<ret<int>> asks;
  answer<int> got;
  spawn(
      loop.rt(),
      [](core& c, std::vector<ret<int>>* a, counts* kk) -> task<int> {
        auto gen = from_pipes(c, a, kk);
        auto first = co_await with_timeout(c, 1ms, gen.next());
        gen = async_generator<int>();  // destroyed while waiting in its ret_pipe
        co_await sleep_for(c, 1ms);
        co_return first ? 1 : 0;
      }(loop.core(), &asks, &k),
      got.to());
  loop.run();
  loop.advance(1ms);
  ASSERT_EQ(asks.size(), 1u);
  asks[0](3);  // its waiter went with the generator
  loop.advance(1ms);
  EXPECT_EQ(got.value, 0);
  EXPECT_TRUE(k.balanced());
}

async_generator<int> kills_then_yields(actor_own<owner>* own, std::vector<std::string>* log) {
  co_yield 1;
  own->kill("stopped by a generator");
  log->push_back("killed");
  co_yield 2;  // would pass control back to the reader: the chain is dropped instead
  log->push_back("after");
  co_yield 3;
}

TEST(generator_body, that_stops_its_readers_actor_yields_nothing_more_and_the_reader_is_dropped) {
  runtime rt;
  counts k;
  actor_own<owner> a = make_owner(rt);
  std::vector<std::string> log;
  answer<int> got;
  call<&owner::start>(
      a,
      [](actor_own<owner>* own, std::vector<std::string>* out, counts* kk) -> task<int> {
        counted local(*kk);
        auto gen = kills_then_yields(own, out);
        int sum = 0;
        while (auto v = co_await gen.next()) {
          out->push_back("read " + std::to_string(*v));
          sum += *v;
        }
        co_return sum;
      }(&a, &log, &k),
      got.to());
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"read 1", "killed"}));
  EXPECT_TRUE(got.once_none());
  EXPECT_TRUE(k.balanced());
}

async_generator<int> throws_after_pipe(core& c, std::vector<ret<int>>* asks) {
  auto [aw, r] = ret_pipe<int>(c);
  asks->push_back(std::move(r));
  co_await std::move(aw);
  throw std::runtime_error("generator threw");
  co_yield 0;
}

TEST(generator_body, that_throws_after_its_next_was_abandoned_rethrows_at_the_following_next) {
  virtual_loop loop;
  std::vector<ret<int>> asks;
  answer<std::string> got;
  spawn(
      loop.rt(),
      [](core& c, std::vector<ret<int>>* a) -> task<std::string> {
        auto gen = throws_after_pipe(c, a);
        auto first = co_await with_timeout(c, 1ms, gen.next());
        std::string out = first ? "value" : "timeout";
        co_await sleep_for(c, 1ms);  // meanwhile it throws, with no next() waiting
        try {
          co_await gen.next();
          out += " then no exception";
        } catch (const std::runtime_error& e) {
          out += std::string(" then ") + e.what();
        }
        auto last = co_await gen.next();
        co_return out + (last ? " then a value" : " then end");
      }(loop.core(), &asks),
      got.to());
  loop.run();
  loop.advance(1ms);
  ASSERT_EQ(asks.size(), 1u);
  asks[0](1);
  loop.advance(1ms);
  EXPECT_EQ(got.value, "timeout then generator threw then end");
}

// --- an actor answering a query ---

struct answerer {
  actor_own<owner>* victim;
  static answerer init(cx<answerer>&, actor_own<owner>* v) { return {v}; }
  void ask(cx<answerer>&, ret<int> r) {
    victim->kill("stopped by the queried actor");
    r(5);  // to a task already destroyed: nothing happens
  }
};

TEST(query_answer, an_actor_that_stops_the_askers_actor_while_answering_drops_the_asking_task) {
  runtime rt;
  counts k;
  actor_own<owner> asker = make_owner(rt);
  actor_own<answerer> other = make_actor<&answerer::init>(rt, ret_nop<stop_cause>(), &asker);
  answer<int> got;
  call<&owner::start>(
      asker,
      [](actor_own<answerer>* o, counts* kk) -> task<int> {
        counted local(*kk);
        co_return co_await stakker::coro::query<&answerer::ask>(*o);
      }(&other, &k),
      got.to());
  run(rt);
  EXPECT_TRUE(got.once_none());
  EXPECT_TRUE(k.balanced());
}

// --- runtime teardown ---

TEST(runtime_teardown, a_none_answer_may_stop_actors_and_spawn_tasks_and_everything_goes_once) {
  counts k;
  int none_answers = 0;
  auto rtp = std::make_unique<runtime>();
  runtime& rt = *rtp;
  actor_own<owner> a = make_owner(rt);
  auto [aw1, r1] = ret_pipe<int>(rt);
  auto [aw2, r2] = ret_pipe<int>(rt);
  // Tied to the runtime, so dropped before the actor's task: its "none" stops the actor
  // (whose task is dropped there) and spawns a task on the dying runtime (dropped in turn).
  spawn(rt, waits(std::move(aw1), &k), ret_do<int>([&](std::optional<int>) {
          ++none_answers;
          a.kill("stopped by a none answer at teardown");
          spawn(rt, waits(ret_pipe<int>(rt).first, &k),
                ret_do<int>([&](std::optional<int>) { ++none_answers; }));
        }));
  call<&owner::start>(a, waits(std::move(aw2), &k),
                      ret_do<int>([&](std::optional<int>) { ++none_answers; }));
  run(rt);
  EXPECT_EQ(k.alive(), 2);
  rtp.reset();
  EXPECT_EQ(none_answers, 3);
  EXPECT_TRUE(k.balanced());
}

// --- fwd_stream's `more` ---

TEST(fwd_stream_more, may_push_and_end_the_stream_it_is_called_for) {
  runtime rt;
  auto holder = std::make_shared<std::optional<fwd<std::optional<int>>>>();
  int n = 0;
  auto [reader, f] = fwd_stream<int>(rt, fwd_do<>([holder, &n] {
                                       if (n < 3) {
                                         (**holder)(n++);
                                       } else {
                                         (**holder)(std::nullopt);
                                       }
                                     }));
  *holder = f;
  f = {};
  answer<int> got;
  spawn(
      rt,
      [](decltype(reader) rd) -> task<int> {
        int sum = 0;
        while (auto v = co_await rd.next()) sum += *v;
        co_return sum;
      }(std::move(reader)),
      got.to());
  run(rt);
  EXPECT_EQ(got.value, 0 + 1 + 2);
  holder->reset();  // the cycle through `more` went with the reader
}

TEST(fwd_stream_more, that_throws_rethrows_at_the_next_and_the_stream_stays_usable) {
  runtime rt;
  bool throw_once = true;
  auto [reader, f] = fwd_stream<int>(rt, fwd_do<>([&throw_once] {
                                       if (std::exchange(throw_once, false))
                                         throw std::runtime_error("more threw");
                                     }));
  answer<std::string> got;
  spawn(
      rt,
      [](decltype(reader) rd) -> task<std::string> {
        std::string out;
        try {
          co_await rd.next();
        } catch (const std::runtime_error& e) {
          out = e.what();
        }
        auto v = co_await rd.next();
        co_return out + (v ? " then " + std::to_string(*v) : " then end");
      }(std::move(reader)),
      got.to());
  run(rt);
  f(8);
  run(rt);
  EXPECT_EQ(got.value, "more threw then 8");
}

TEST(fwd_stream_more, that_destroys_the_reader_ends_that_next_with_nullopt) {
  runtime rt;
  auto slot = std::make_shared<std::optional<stakker::coro::detail::stream_reader<int, false>>>();
  auto [reader, f] = fwd_stream<int>(rt, fwd_do<>([slot] { slot->reset(); }));
  *slot = std::move(reader);
  f = {};  // the reader's state now lives only through the reader (and a pending next)
  answer<std::string> got;
  spawn(
      rt,
      [](decltype(slot) s) -> task<std::string> {
        auto v = co_await (*s)->next();  // `more` destroys the reader inside this next()
        co_return v ? "value" : "end";
      }(slot),
      got.to());
  run(rt);
  EXPECT_EQ(got.value, "end");
}

TEST(fwd_stream_reader, destroyed_by_other_code_while_a_task_waits_in_next_ends_that_next) {
  runtime rt;
  auto slot = std::make_shared<std::optional<stakker::coro::detail::stream_reader<int, false>>>();
  auto [reader, f] = fwd_stream<int>(rt);
  *slot = std::move(reader);
  answer<std::string> got;
  spawn(
      rt,
      [](decltype(slot) s) -> task<std::string> {
        auto v = co_await (*s)->next();
        co_return v ? "value" : "end";
      }(slot),
      got.to());
  run(rt);
  EXPECT_EQ(got.calls, 0);
  slot->reset();  // from outside the task, while it waits
  f(1);           // a no-op now
  run(rt);
  EXPECT_EQ(got.value, "end");
}

TEST(fwd_stream_more, that_drops_the_last_producer_fwd_fails_the_stream) {
  runtime rt;
  auto holder = std::make_shared<std::optional<fwd<std::optional<int>>>>();
  auto [reader, f] = fwd_stream_result<int>(rt, fwd_do<>([holder] { holder->reset(); }));
  *holder = std::move(f);
  answer<std::string> got;
  spawn(
      rt,
      [](decltype(reader) rd) -> task<std::string> {
        auto item = co_await rd.next();
        if (item.ended()) co_return "end";
        co_return item.failed() ? "actor_fail" : "value";
      }(std::move(reader)),
      got.to());
  run(rt);
  EXPECT_EQ(got.value, "actor_fail");
}

// --- a pull's request ---

TEST(pull_request, that_throws_rethrows_at_the_await_and_the_reply_is_dropped) {
  runtime rt;
  answer<std::string> got;
  spawn(
      rt,
      [](core& c) -> task<std::string> {
        try {
          co_await pull<int>(c, ret_do<ret<int>>([](std::optional<ret<int>>) {
                               throw std::runtime_error("request threw");
                             }));
        } catch (const std::runtime_error& e) {
          co_return e.what();
        }
        co_return "no exception";
      }(rt),
      got.to());
  run(rt);
  EXPECT_EQ(got.value, "request threw");
}

TEST(pull_request, that_stops_the_owning_actor_drops_the_task_at_that_await) {
  runtime rt;
  counts k;
  actor_own<owner> a = make_owner(rt);
  answer<int> got;
  std::optional<ret<int>> kept;
  call<&owner::start>(
      a,
      [](core& c, actor_own<owner>* own, std::optional<ret<int>>* keep, counts* kk) -> task<int> {
        counted local(*kk);
        co_return co_await pull<int>(c, ret_do<ret<int>>([own, keep](std::optional<ret<int>> r) {
                                       own->kill("stopped by a request");
                                       *keep = std::move(*r);
                                     }));
      }(rt, &a, &kept, &k),
      got.to());
  run(rt);
  EXPECT_TRUE(got.once_none());
  EXPECT_TRUE(k.balanced());
  (*kept)(1);  // disarmed
  run(rt);
}

// --- spawn_stream's fwd ---

async_generator<int> ready_values(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

TEST(spawn_stream_fwd, that_stops_the_owning_actor_forwards_nothing_more) {
  runtime rt;
  actor_own<owner> a = make_owner(rt);
  std::vector<std::optional<int>> seen;
  call<&owner::stream<int>>(a, ready_values(100),
                            fwd_do<std::optional<int>>([&](std::optional<int> v) {
                              seen.push_back(v);
                              if (v == 2) a.kill("stopped by the stream's fwd");
                            }));
  run(rt);
  EXPECT_EQ(seen, (std::vector<std::optional<int>>{0, 1, 2}));
}

TEST(spawn_stream_fwd, that_throws_ends_the_stream_with_nullopt_and_nothing_more_is_forwarded) {
  runtime rt;
  std::vector<std::optional<int>> seen;
  spawn_stream(rt, ready_values(5), fwd_do<std::optional<int>>([&](std::optional<int> v) {
                 seen.push_back(v);
                 if (v == 1) throw std::runtime_error("fwd threw");
               }));
  testing::internal::CaptureStderr();
  run(rt);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(seen, (std::vector<std::optional<int>>{0, 1, std::nullopt}));
  EXPECT_NE(err.find("fwd threw"), std::string::npos);
}

TEST(fwd_stream_reader, a_task_may_push_into_the_stream_it_reads) {
  runtime rt;
  auto [reader, f] = fwd_stream<int>(rt);
  answer<int> got;
  spawn(
      rt,
      [](decltype(reader) rd, fwd<std::optional<int>> self) -> task<int> {
        self(1);
        int a = *co_await rd.next();  // buffered: no suspension
        self(2);
        self(std::nullopt);
        int b = *co_await rd.next();
        auto end = co_await rd.next();
        co_return end ? -1 : a + b;
      }(std::move(reader), f),
      got.to());
  run(rt);
  EXPECT_EQ(got.value, 3);
}
