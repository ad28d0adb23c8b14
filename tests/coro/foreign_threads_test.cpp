// SPDX-License-Identifier: MIT OR Apache-2.0
// K5: foreign awaitables (anything not from this library) may complete on any thread; the
// awaiting task still resumes on the runtime thread, through the cross-thread path. Also the
// other shapes of the awaitable protocol: await_ready true, await_suspend returning bool or
// a coroutine_handle. Run under ThreadSanitizer by CI (the name matches "thread").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/call.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::actor_own;
using stakker::clock;
using stakker::core;
using stakker::cx;
using stakker::fwd_do;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::coro::async_generator;
using stakker::coro::result;
using stakker::coro::spawn;
using stakker::coro::spawn_result;
using stakker::coro::spawn_stream;
using stakker::coro::task;
using stakker::coro::when_all;
using stakker::loop::epoll_loop;
using stakker::testing::counted;
using stakker::testing::counts;

// Who completed a foreign await: written by the completing thread before it resumes the
// handle, read by the task after it resumed (ordered by the bridge's cross-thread path).
// Shared, so a completion for a task that is gone writes somewhere valid.
struct completion {
  std::thread::id by;
  int value = 0;
};

// Another library's executor: worker threads that resume the coroutine handles posted to
// them, in order, optionally after a pause. A budget, if set, limits how many more handles
// they may take (until raised or the pool is joined). Every posted handle is resumed before
// the workers exit (a foreign library must eventually resume or destroy what it was given).
class handle_pool {
 public:
  explicit handle_pool(int threads, std::chrono::microseconds pause = 0us, long budget = -1)
      : pause_(pause), budget_(budget) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  handle_pool(const handle_pool&) = delete;
  handle_pool& operator=(const handle_pool&) = delete;
  ~handle_pool() { join(); }

  void post(std::coroutine_handle<> h, std::shared_ptr<completion> c, int value) {
    {
      std::lock_guard<std::mutex> lock(m_);
      q_.push_back(item{h, std::move(c), value});
    }
    cv_.notify_one();
  }
  // Lets the workers take `n` more handles (-1: no limit).
  void allow(long n) {
    {
      std::lock_guard<std::mutex> lock(m_);
      budget_ = n < 0 ? -1 : (budget_ < 0 ? 0 : budget_) + n;
    }
    cv_.notify_all();
  }
  // How many handles the workers have resumed.
  long resumed() const { return resumed_.load(); }
  // Resumes whatever is still queued, then ends the workers.
  void join() {
    {
      std::lock_guard<std::mutex> lock(m_);
      closed_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  struct item {
    std::coroutine_handle<> h;
    std::shared_ptr<completion> c;
    int value = 0;
  };
  void work() {
    for (;;) {
      item it;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [this] { return closed_ || (!q_.empty() && budget_ != 0); });
        if (q_.empty()) return;
        it = std::move(q_.front());
        q_.pop_front();
        if (budget_ > 0) --budget_;
      }
      if (pause_ > 0us) std::this_thread::sleep_for(pause_);
      if (it.c) {
        it.c->by = std::this_thread::get_id();
        it.c->value = it.value;
      }
      it.h.resume();
      ++resumed_;
    }
  }

  std::chrono::microseconds pause_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<item> q_;
  long budget_;
  bool closed_ = false;
  std::atomic<long> resumed_{0};
  std::vector<std::thread> threads_;
};

// A foreign awaitable completed by a handle_pool thread; gives the value and who completed it.
// (Not an aggregate: g++ 12 destroys a braced aggregate temporary that is co_awaited twice
// when it has a non-trivial destructor, as this one has.)
struct pooled {
  handle_pool* pool;
  int value;
  std::shared_ptr<completion> c = std::make_shared<completion>();

  pooled(handle_pool* p, int v) : pool(p), value(v) {}

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { pool->post(h, c, value); }
  completion await_resume() const { return *c; }
};

// A foreign awaitable that parks its handle for the test to resume later, from a thread.
struct parking_lot {
  std::mutex m;
  std::condition_variable cv;
  std::coroutine_handle<> parked;

  std::coroutine_handle<> wait_parked() {
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, 10s, [this] { return static_cast<bool>(parked); });
    return std::exchange(parked, {});
  }
};
struct parks {
  parking_lot* lot;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    {
      std::lock_guard<std::mutex> lock(lot->m);
      lot->parked = h;
    }
    lot->cv.notify_all();
  }
  int await_resume() const noexcept { return 1; }
};

// await_suspend returning bool: false resumes at once, true suspends (completed by a thread).
struct bool_suspend {
  bool suspend;
  std::thread* worker = nullptr;  // completes it when suspend is true
  int value;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!suspend) return false;
    *worker = std::thread([h] { h.resume(); });
    return true;
  }
  int await_resume() const noexcept { return value; }
};

// Always ready: never suspends.
struct ready_now {
  int value;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept { std::abort(); }
  int await_resume() const noexcept { return value; }
};

// A coroutine type of "another library": lazy, and on completion it transfers to whoever
// it was told to continue (symmetric transfer).
struct foreign_job {
  struct promise_type {
    std::coroutine_handle<> next;
    int value = 0;
    foreign_job get_return_object() {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
        return self.promise().next ? self.promise().next : std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_value(int v) { value = v; }
    void unhandled_exception() { std::terminate(); }
  };
  std::coroutine_handle<promise_type> h;
};

foreign_job compute(int v) { co_return v * 3; }

// await_suspend returning a coroutine_handle: transfers to a foreign job, which transfers
// back to the awaiting handle when it is done.
struct transfer_to_job {
  foreign_job job;
  transfer_to_job(const transfer_to_job&) = delete;
  transfer_to_job(transfer_to_job&& o) noexcept : job{std::exchange(o.job.h, {})} {}
  explicit transfer_to_job(int v) : job(compute(v)) {}
  ~transfer_to_job() {
    if (job.h) job.h.destroy();
  }
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
    job.h.promise().next = h;
    return job.h;
  }
  int await_resume() const noexcept { return job.h.promise().value; }
};

// await_suspend returning the handle it was given: resume at once.
struct transfer_back {
  int value;
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) const noexcept { return h; }
  int await_resume() const noexcept { return value; }
};

// await_suspend returning noop_coroutine; a thread completes it later.
struct transfer_to_noop {
  std::thread* worker;
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    *worker = std::thread([h] { h.resume(); });
    return std::noop_coroutine();
  }
  std::thread::id await_resume() const noexcept { return std::this_thread::get_id(); }
};

// An awaitable through a member operator co_await.
struct via_operator {
  handle_pool* pool;
  int value;
  pooled operator co_await() const { return pooled(pool, value); }
};

// Resumed from a thread, then its await_resume throws.
struct throws_on_resume {
  std::thread* worker;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    *worker = std::thread([h] { h.resume(); });
  }
  int await_resume() const { throw std::runtime_error("foreign failure"); }
};

// Its await_suspend throws (without keeping the handle).
struct throws_in_suspend {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const { throw std::runtime_error("cannot start"); }
  int await_resume() const noexcept { return 0; }
};

// An actor whose tasks are tied to it.
struct host {
  static host init(cx<host>&) { return {}; }
  void start(cx<host>& x, task<int> t, ret<int> r) { spawn(x, std::move(t), std::move(r)); }
};

using coro_test::run;

// Runs `rt` (which has a no-op poll waker) until `done()`, polling; gives up after 20 s.
template <class F>
void run_until(runtime& rt, F done) {
  const auto give_up = clock::now() + 20s;
  while (!done() && clock::now() < give_up) {
    run(rt);
    std::this_thread::yield();
  }
}

// Turns `loop` until `done()`; gives up after 20 s.
template <class F>
void turn_until(epoll_loop& loop, F done) {
  const auto give_up = clock::now() + 20s;
  while (!done() && clock::now() < give_up) loop.turn(10ms);
}

// Shuts the runtime down after 20 s, so a lost wake-up fails the test instead of hanging it.
void guard(runtime& rt, bool* timed_out) {
  rt.after(20s, [timed_out](core& c) {
    *timed_out = true;
    c.shutdown(stop_cause::stopped());
  });
}

}  // namespace

TEST(coro_foreign_threads, an_await_completed_on_another_thread_resumes_on_the_runtime_thread) {
  runtime rt;
  epoll_loop loop(rt);
  bool timed_out = false;
  guard(rt, &timed_out);
  handle_pool pool(1);
  const auto runtime_thread = std::this_thread::get_id();
  struct seen {
    std::thread::id resumed_on, completed_by;
    int value = 0;
  } s;
  spawn(
      rt,
      [](core& c, handle_pool* p, seen* out) -> task<void> {
        completion done = co_await pooled(p, 7);
        out->resumed_on = std::this_thread::get_id();
        out->completed_by = done.by;
        out->value = done.value;
        c.shutdown(stop_cause::stopped());
      }(rt, &pool, &s),
      ret_nop<void>());
  loop.run();
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(s.value, 7);
  EXPECT_EQ(s.resumed_on, runtime_thread);
  EXPECT_NE(s.completed_by, runtime_thread);  // it really completed on another thread
  EXPECT_NE(s.completed_by, std::thread::id());
}

TEST(coro_foreign_threads,
     a_thousand_awaits_completed_by_several_threads_all_resume_on_the_runtime_thread) {
  runtime rt;
  epoll_loop loop(rt);
  bool timed_out = false;
  guard(rt, &timed_out);
  handle_pool pool(4);
  const auto runtime_thread = std::this_thread::get_id();
  struct tally {
    int resumed = 0;
    int on_other_thread = 0;  // resumed anywhere but the runtime thread: must stay 0
    int completed_here = 0;   // completed by the runtime thread itself: must stay 0
    long sum = 0;
    int tasks_done = 0;
  } t;
  constexpr int single = 600;  // tasks with one await each
  constexpr int chains = 4;    // tasks with 100 awaits in a row each
  auto finish = [&rt, &t] {
    if (++t.tasks_done == single + chains) rt.shutdown(stop_cause::stopped());
  };
  auto one_await = [](handle_pool* p, int v, std::thread::id home, tally* out) -> task<void> {
    completion done = co_await pooled(p, v);
    ++out->resumed;
    if (std::this_thread::get_id() != home) ++out->on_other_thread;
    if (done.by == home) ++out->completed_here;
    out->sum += done.value;
  };
  auto many_awaits = [](handle_pool* p, int base, std::thread::id home, tally* out) -> task<void> {
    for (int i = 0; i < 100; ++i) {
      completion done = co_await pooled(p, base + i);
      ++out->resumed;
      if (std::this_thread::get_id() != home) ++out->on_other_thread;
      if (done.by == home) ++out->completed_here;
      out->sum += done.value;
    }
  };
  long expected = 0;
  for (int i = 0; i < single; ++i) {
    spawn(rt, one_await(&pool, i, runtime_thread, &t),
          ret_do<void>([finish](std::optional<std::monostate>) { finish(); }));
    expected += i;
  }
  for (int c = 0; c < chains; ++c) {
    spawn(rt, many_awaits(&pool, 1000 * c, runtime_thread, &t),
          ret_do<void>([finish](std::optional<std::monostate>) { finish(); }));
    for (int i = 0; i < 100; ++i) expected += 1000 * c + i;
  }
  loop.run();
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(t.resumed, single + chains * 100);
  EXPECT_EQ(t.on_other_thread, 0);
  EXPECT_EQ(t.completed_here, 0);
  EXPECT_EQ(t.sum, expected);
}

TEST(coro_foreign_threads,
     a_task_destroyed_while_its_await_is_pending_is_not_resumed_when_the_thread_completes_it) {
  runtime rt;
  epoll_loop loop(rt);
  parking_lot lot;
  counts k;
  bool after = false;
  int answers = 0;
  std::optional<int> value;
  actor_own<host> h = make_actor<&host::init>(rt, ret_nop<stop_cause>());
  stakker::call<&host::start>(
      h,
      [](parking_lot* l, counts* kk, bool* a) -> task<int> {
        counted local(*kk);
        int v = co_await parks{l};
        *a = true;
        co_return v;
      }(&lot, &k, &after),
      ret_do<int>([&](std::optional<int> v) {
        ++answers;
        value = v;
      }));
  loop.turn(0ms);
  std::coroutine_handle<> parked = lot.wait_parked();
  ASSERT_TRUE(parked);
  EXPECT_EQ(k.alive(), 1);
  h.kill("owner stopped");  // the task goes while the foreign side still holds its handle
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(value, std::nullopt);
  std::thread late([parked] { parked.resume(); });
  late.join();
  for (int i = 0; i < 5; ++i) loop.turn(1ms);
  EXPECT_FALSE(after);
  EXPECT_EQ(answers, 1);
  EXPECT_TRUE(k.balanced());
}

TEST(coro_foreign_threads,
     a_pending_await_whose_runtime_is_gone_is_completed_by_a_thread_harmlessly) {
  parking_lot lot;
  counts k;
  bool after = false;
  std::optional<bool> none;
  {
    runtime rt;
    rt.set_poll_waker([] {});
    spawn(
        rt,
        [](parking_lot* l, counts* kk, bool* a) -> task<int> {
          counted local(*kk);
          int v = co_await parks{l};
          *a = true;
          co_return v;
        }(&lot, &k, &after),
        ret_do<int>([&](std::optional<int> v) { none = !v; }));
    run(rt);
    EXPECT_EQ(k.alive(), 1);
  }
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(none, true);
  std::coroutine_handle<> parked = lot.wait_parked();
  ASSERT_TRUE(parked);
  std::thread late([parked] { parked.resume(); });
  late.join();
  EXPECT_FALSE(after);
}

TEST(coro_foreign_threads, tasks_destroyed_while_threads_are_completing_their_awaits_race_safely) {
  runtime rt;
  epoll_loop loop(rt);
  handle_pool pool(3, 10us, 100);  // at first, only 100 handles may be resumed
  counts k;
  constexpr int n = 300;
  int values = 0;
  int nones = 0;
  actor_own<host> h = make_actor<&host::init>(rt, ret_nop<stop_cause>());
  for (int i = 0; i < n; ++i) {
    stakker::call<&host::start>(
        h,
        [](handle_pool* p, int v, counts* kk) -> task<int> {
          counted local(*kk);
          completion a = co_await pooled(p, v);
          co_return a.value;
        }(&pool, i, &k),
        ret_do<int>([&](std::optional<int> v) { ++(v ? values : nones); }));
  }
  turn_until(loop, [&] { return values == 100; });
  EXPECT_EQ(values, 100);
  EXPECT_EQ(k.alive(), n - 100);
  // Let the workers resume the other 200 handles while the runtime thread destroys the
  // tasks waiting for them: posts race with the abandoning of their awaits.
  pool.allow(-1);
  h.kill("owner stopped");
  EXPECT_EQ(nones, n - 100);  // tasks resume only on the runtime thread: none could since
  EXPECT_TRUE(k.balanced());
  pool.join();  // every remaining handle is resumed, for tasks that are gone
  EXPECT_EQ(pool.resumed(), n);
  for (int i = 0; i < 5; ++i) loop.turn(1ms);
  EXPECT_EQ(values, 100);
  EXPECT_EQ(nones, n - 100);
  EXPECT_TRUE(k.balanced());
}

TEST(coro_foreign_threads, await_suspend_returning_false_resumes_at_once_on_the_runtime_thread) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::optional<int> got;
  spawn(
      rt,
      []() -> task<int> {
        int total = 0;
        for (int i = 0; i < 100'000; ++i) total += co_await bool_suspend{false, nullptr, 1};
        co_return total;
      }(),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  run(rt);  // no thread and no wake-up involved: done in one run
  EXPECT_EQ(got, 100'000);
}

TEST(coro_foreign_threads, await_suspend_returning_true_waits_for_the_thread_that_completes_it) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::thread worker;
  const auto runtime_thread = std::this_thread::get_id();
  std::optional<bool> same;
  spawn(
      rt,
      [](std::thread* w, std::thread::id home) -> task<bool> {
        int v = co_await bool_suspend{true, w, 5};
        co_return v == 5 && std::this_thread::get_id() == home;
      }(&worker, runtime_thread),
      ret_do<bool>([&](std::optional<bool> v) { same = v; }));
  run_until(rt, [&] { return same.has_value(); });
  worker.join();
  EXPECT_EQ(same, true);
}

TEST(coro_foreign_threads,
     await_suspend_returning_a_handle_transfers_to_it_and_resumes_on_the_runtime_thread) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::optional<int> got;
  spawn(
      rt,
      []() -> task<int> {
        int a = co_await transfer_to_job(4);  // a foreign coroutine runs, then transfers back
        int b = co_await transfer_back{5};    // given back the handle it got: resumes at once
        co_return a + b;
      }(),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  run_until(rt, [&] { return got.has_value(); });
  EXPECT_EQ(got, 17);
}

TEST(coro_foreign_threads,
     await_suspend_returning_noop_then_completed_by_a_thread_resumes_on_the_runtime_thread) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::thread worker;
  const auto runtime_thread = std::this_thread::get_id();
  std::optional<bool> same;
  spawn(
      rt,
      [](std::thread* w, std::thread::id home) -> task<bool> {
        std::thread::id resumed_on = co_await transfer_to_noop{w};
        co_return resumed_on == home;
      }(&worker, runtime_thread),
      ret_do<bool>([&](std::optional<bool> v) { same = v; }));
  run_until(rt, [&] { return same.has_value(); });
  worker.join();
  EXPECT_EQ(same, true);
}

TEST(coro_foreign_threads, an_awaitable_ready_at_once_never_suspends_and_needs_no_poll_waker) {
  runtime rt;  // no loop, no poll waker: no cross-thread path is set up
  std::optional<int> got;
  spawn(
      rt,
      []() -> task<int> {
        int total = 0;
        for (int i = 0; i < 100'000; ++i) total += co_await ready_now{2};
        co_return total;
      }(),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  run(rt);
  EXPECT_EQ(got, 200'000);
}

TEST(coro_foreign_threads,
     an_lvalue_awaitable_and_one_with_operator_co_await_complete_from_threads) {
  runtime rt;
  epoll_loop loop(rt);
  bool timed_out = false;
  guard(rt, &timed_out);
  handle_pool pool(2);
  std::optional<int> got;
  spawn(
      rt,
      [](core& c, handle_pool* p) -> task<int> {
        pooled aw(p, 10);
        completion first = co_await aw;  // awaited in place, as an lvalue
        completion second = co_await via_operator{p, 20};
        c.shutdown(stop_cause::stopped());
        co_return first.value + second.value + aw.c->value;
      }(rt, &pool),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  loop.run();
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(got, 40);
}

TEST(coro_foreign_threads,
     an_exception_from_await_resume_after_a_thread_completed_it_reaches_the_task) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::thread worker;
  std::optional<std::string> caught;
  spawn(
      rt,
      [](std::thread* w) -> task<std::string> {
        try {
          co_await throws_on_resume{w};
        } catch (const std::runtime_error& e) {
          co_return e.what();
        }
        co_return "no exception";
      }(&worker),
      ret_do<std::string>([&](std::optional<std::string> v) { caught = v; }));
  run_until(rt, [&] { return caught.has_value(); });
  worker.join();
  EXPECT_EQ(caught, "foreign failure");
}

TEST(coro_foreign_threads, an_exception_from_await_suspend_reaches_the_task_without_leaking) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::optional<result<int>> got;
  spawn_result(
      rt, []() -> task<int> { co_return co_await throws_in_suspend{}; }(),
      ret_do<result<int>>([&](std::optional<result<int>> v) { got = std::move(v); }));
  run(rt);
  ASSERT_TRUE(got);
  ASSERT_FALSE(got->has_value());
  EXPECT_NE(got->error().what().find("cannot start"), std::string::npos);
}

TEST(coro_foreign_threads,
     a_foreign_await_that_suspends_on_a_runtime_without_a_poll_waker_fails_the_task) {
  runtime rt;  // nothing can wake it from another thread: the await fails at once
  parking_lot lot;
  std::optional<result<int>> got;
  spawn_result(
      rt, [](parking_lot* l) -> task<int> { co_return co_await parks{l}; }(&lot),
      ret_do<result<int>>([&](std::optional<result<int>> v) { got = std::move(v); }));
  run(rt);
  ASSERT_TRUE(got);
  ASSERT_FALSE(got->has_value());
  EXPECT_NE(got->error().what().find("poll waker"), std::string::npos) << got->error().what();
  EXPECT_FALSE(lot.parked);  // its await_suspend was never called
}

TEST(coro_foreign_threads, spawning_a_foreign_awaitable_directly_answers_on_the_runtime_thread) {
  runtime rt;
  epoll_loop loop(rt);
  bool timed_out = false;
  guard(rt, &timed_out);
  handle_pool pool(1);
  const auto runtime_thread = std::this_thread::get_id();
  std::optional<int> got;
  std::thread::id answered_on;
  spawn(rt, pooled(&pool, 33), ret_do<completion>([&](std::optional<completion> c) {
          got = c ? std::optional<int>(c->value) : std::nullopt;
          answered_on = std::this_thread::get_id();
          rt.shutdown(stop_cause::stopped());
        }));
  loop.run();
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(got, 33);
  EXPECT_EQ(answered_on, runtime_thread);
}

TEST(coro_foreign_threads,
     a_generator_awaiting_threads_between_yields_forwards_in_order_on_the_runtime_thread) {
  runtime rt;
  epoll_loop loop(rt);
  bool timed_out = false;
  guard(rt, &timed_out);
  handle_pool pool(3);
  const auto runtime_thread = std::this_thread::get_id();
  std::vector<std::optional<int>> seen;
  int off_thread = 0;
  spawn_stream(
      rt,
      [](handle_pool* p) -> async_generator<int> {
        for (int i = 0; i < 50; ++i) {
          completion c = co_await pooled(p, i);
          co_yield c.value;
        }
      }(&pool),
      fwd_do<std::optional<int>>([&](std::optional<int> v) {
        if (std::this_thread::get_id() != runtime_thread) ++off_thread;
        seen.push_back(v);
        if (!v) rt.shutdown(stop_cause::stopped());
      }));
  loop.run();
  EXPECT_FALSE(timed_out);
  ASSERT_EQ(seen.size(), 51u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(seen.back(), std::nullopt);
  EXPECT_EQ(off_thread, 0);
}

TEST(coro_foreign_threads, when_all_children_completed_by_different_threads_resume_the_task_once) {
  runtime rt;
  epoll_loop loop(rt);
  bool timed_out = false;
  guard(rt, &timed_out);
  handle_pool pool(4, 10us);
  const auto runtime_thread = std::this_thread::get_id();
  std::optional<bool> ok;
  auto child = [](handle_pool* p, int v) -> task<int> {
    completion c = co_await pooled(p, v);
    co_return c.value;
  };
  spawn(
      rt,
      [](core& c, std::thread::id home, auto make, handle_pool* p) -> task<bool> {
        auto [a, b, d, e] = co_await when_all(make(p, 1), make(p, 2), make(p, 3), make(p, 4));
        c.shutdown(stop_cause::stopped());
        co_return a + b + d + e == 10 && std::this_thread::get_id() == home;
      }(rt, runtime_thread, child, &pool),
      ret_do<bool>([&](std::optional<bool> v) { ok = v; }));
  loop.run();
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(ok, true);
}
