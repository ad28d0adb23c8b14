// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/runtime.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "stakker/deferrer.hpp"
#include "stakker/stop_cause.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::core;
using stakker::duration;
using stakker::instant;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

const instant t0 = instant(std::chrono::hours(1));

// ---- R1: run order ----

TEST(runtime, run_runs_the_main_queue_in_fifo_order) {
  runtime rt(t0);
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) rt.defer([&order, i](core&) { order.push_back(i); });
  rt.run(t0, false);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

// `run` is compiled into the library (a library of its own in a shared build) and the
// closure into the program: both see one running-core variable, not one per module.
TEST(runtime, a_closure_queued_by_the_program_sees_its_runtime_as_the_running_core) {
  runtime rt(t0);
  const core* seen = nullptr;
  rt.defer([&seen](core&) { seen = stakker::detail::running_core; });
  rt.run(t0, false);
  EXPECT_EQ(seen, &rt);
  EXPECT_EQ(stakker::detail::running_core, nullptr);
}

TEST(runtime, run_runs_the_lazy_queue_only_after_the_main_queue_is_empty) {
  runtime rt(t0);
  std::vector<std::string> order;
  rt.lazy([&](core&) { order.push_back("lazy1"); });
  rt.defer([&](core&) { order.push_back("main1"); });
  rt.lazy([&](core&) { order.push_back("lazy2"); });
  rt.defer([&](core&) { order.push_back("main2"); });
  rt.run(t0, false);
  EXPECT_EQ(order, (std::vector<std::string>{"main1", "main2", "lazy1", "lazy2"}));
}

TEST(runtime, run_repeats_main_then_lazy_until_both_are_empty) {
  runtime rt(t0);
  std::vector<std::string> order;
  rt.defer([&](core& c) {
    order.push_back("M1");
    c.lazy([&](core& c2) {
      order.push_back("L1");
      c2.defer([&](core&) { order.push_back("M2"); });
      c2.lazy([&](core&) { order.push_back("L3"); });
    });
    c.lazy([&](core&) { order.push_back("L2"); });
  });
  rt.run(t0, false);
  // The lazy items queued so far ("L1", "L2") run as a batch, then the main queue again
  // ("M2"), then the lazy item queued during the first lazy batch ("L3").
  EXPECT_EQ(order, (std::vector<std::string>{"M1", "L1", "L2", "M2", "L3"}));
  EXPECT_TRUE(rt.next_wait(t0) == std::nullopt);
}

TEST(runtime, items_queued_during_a_run_run_in_the_same_run_in_fifo_order) {
  runtime rt(t0);
  std::vector<int> order;
  rt.defer([&](core& c) {
    order.push_back(1);
    c.defer([&](core& c2) {
      order.push_back(3);
      c2.defer([&](core&) { order.push_back(5); });
    });
    c.defer([&](core&) { order.push_back(4); });
  });
  rt.defer([&](core&) { order.push_back(2); });
  rt.run(t0, false);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(runtime, a_long_chain_of_self_requeueing_closures_completes_in_one_run) {
  runtime rt(t0);
  int count = 0;
  struct step {
    int* count;
    void operator()(core& c) const {
      if (++*count < 50000) c.defer(step{count});
    }
  };
  rt.defer(step{&count});
  rt.run(t0, false);
  EXPECT_EQ(count, 50000);
}

TEST(runtime, run_without_idle_runs_no_idle_item_and_reports_that_some_remain) {
  runtime rt(t0);
  int idle_ran = 0;
  rt.idle([&](core&) { ++idle_ran; });
  EXPECT_TRUE(rt.has_idle());
  EXPECT_TRUE(rt.run(t0, false));
  EXPECT_EQ(idle_ran, 0);
  EXPECT_TRUE(rt.has_idle());
}

TEST(runtime, run_with_idle_runs_exactly_one_idle_item_first) {
  runtime rt(t0);
  std::vector<std::string> order;
  rt.idle([&](core&) { order.push_back("idle1"); });
  rt.idle([&](core&) { order.push_back("idle2"); });
  rt.defer([&](core&) { order.push_back("main"); });
  rt.lazy([&](core&) { order.push_back("lazy"); });

  EXPECT_TRUE(rt.run(t0, true));
  EXPECT_EQ(order, (std::vector<std::string>{"idle1", "main", "lazy"}));

  order.clear();
  EXPECT_FALSE(rt.run(t0, true));
  EXPECT_EQ(order, (std::vector<std::string>{"idle2"}));
  EXPECT_FALSE(rt.has_idle());
}

TEST(runtime, an_idle_item_queued_by_an_idle_item_waits_for_the_next_idle_run) {
  runtime rt(t0);
  std::vector<std::string> order;
  rt.idle([&](core& c) {
    order.push_back("idle1");
    c.defer([&](core&) { order.push_back("main"); });
    c.idle([&](core&) { order.push_back("idle2"); });
  });
  EXPECT_TRUE(rt.run(t0, true));
  EXPECT_EQ(order, (std::vector<std::string>{"idle1", "main"}));
  EXPECT_FALSE(rt.run(t0, true));
  EXPECT_EQ(order, (std::vector<std::string>{"idle1", "main", "idle2"}));
}

TEST(runtime, run_with_idle_and_an_empty_idle_queue_runs_the_main_queue_and_returns_false) {
  runtime rt(t0);
  int ran = 0;
  rt.defer([&](core&) { ++ran; });
  EXPECT_FALSE(rt.run(t0, true));
  EXPECT_EQ(ran, 1);
}

TEST(runtime, run_returns_true_when_a_main_closure_queued_an_idle_item) {
  runtime rt(t0);
  rt.defer([](core& c) { c.idle([](core&) {}); });
  EXPECT_TRUE(rt.run(t0, false));
  EXPECT_TRUE(rt.has_idle());
}

TEST(runtime, run_sets_the_time_closures_see) {
  runtime rt(t0);
  instant seen{};
  rt.defer([&](core& c) { seen = c.now(); });
  rt.run(t0 + 5s, false);
  EXPECT_EQ(seen, t0 + 5s);
  EXPECT_EQ(rt.now(), t0 + 5s);
}

TEST(runtime, an_earlier_now_is_ignored_so_time_never_goes_backwards) {
  runtime rt(t0);
  rt.run(t0 + 10s, false);
  instant seen{};
  rt.defer([&](core& c) { seen = c.now(); });
  rt.run(t0 + 3s, false);
  EXPECT_EQ(rt.now(), t0 + 10s);
  EXPECT_EQ(seen, t0 + 10s);
  rt.run(t0 + 11s, false);
  EXPECT_EQ(rt.now(), t0 + 11s);
}

TEST(runtime, a_start_time_earlier_than_the_construction_time_is_ignored_by_run) {
  runtime rt(t0);
  EXPECT_EQ(rt.now(), t0);
  rt.run(t0 - 1h, false);
  EXPECT_EQ(rt.now(), t0);
}

// ---- R2: how long the loop may sleep ----

TEST(runtime, next_expiry_is_empty_without_timers) {
  runtime rt(t0);
  rt.defer([](core&) {});
  EXPECT_FALSE(rt.next_expiry().has_value());
}

TEST(runtime, next_wait_is_empty_when_nothing_is_queued_or_due) {
  runtime rt(t0);
  EXPECT_FALSE(rt.next_wait(t0).has_value());
  rt.defer([](core&) {});
  rt.run(t0, false);
  EXPECT_FALSE(rt.next_wait(t0).has_value());
}

TEST(runtime, next_wait_is_zero_when_main_work_is_queued) {
  runtime rt(t0);
  rt.defer([](core&) {});
  ASSERT_TRUE(rt.next_wait(t0).has_value());
  EXPECT_EQ(*rt.next_wait(t0), duration::zero());
}

TEST(runtime, next_wait_is_zero_when_lazy_work_is_queued) {
  runtime rt(t0);
  rt.lazy([](core&) {});
  ASSERT_TRUE(rt.next_wait(t0).has_value());
  EXPECT_EQ(*rt.next_wait(t0), duration::zero());
}

TEST(runtime, next_wait_max_is_max_when_nothing_is_due) {
  runtime rt(t0);
  EXPECT_EQ(rt.next_wait_max(t0, 250ms, false), duration(250ms));
}

TEST(runtime, next_wait_max_is_zero_when_pending) {
  runtime rt(t0);
  EXPECT_EQ(rt.next_wait_max(t0, 250ms, true), duration::zero());
}

TEST(runtime, next_wait_max_is_zero_when_work_is_queued) {
  runtime rt(t0);
  rt.defer([](core&) {});
  EXPECT_EQ(rt.next_wait_max(t0, 250ms, false), duration::zero());
  rt.run(t0, false);
  EXPECT_EQ(rt.next_wait_max(t0, 250ms, false), duration(250ms));
}

TEST(runtime, idle_items_make_the_loop_poll_through_the_pending_flag) {
  runtime rt(t0);
  rt.idle([](core&) {});
  // Idle items are not main work: the loop learns of them from has_idle() and passes it as
  // `pending`.
  EXPECT_FALSE(rt.next_wait(t0).has_value());
  EXPECT_TRUE(rt.has_idle());
  EXPECT_EQ(rt.next_wait_max(t0, 1s, rt.has_idle()), duration::zero());
  rt.run(t0, true);
  EXPECT_FALSE(rt.has_idle());
  EXPECT_EQ(rt.next_wait_max(t0, 1s, rt.has_idle()), duration(1s));
}

// ---- R4: shutdown ----

TEST(runtime, a_new_runtime_is_not_shut_down) {
  runtime rt(t0);
  EXPECT_FALSE(rt.is_shutdown());
  EXPECT_FALSE(rt.shutdown_cause().has_value());
}

TEST(runtime, shutdown_records_the_cause) {
  runtime rt(t0);
  rt.shutdown(stop_cause::failed("disk full"));
  ASSERT_TRUE(rt.is_shutdown());
  ASSERT_TRUE(rt.shutdown_cause().has_value());
  EXPECT_EQ(rt.shutdown_cause()->kind(), stop_kind::failed);
  EXPECT_EQ(rt.shutdown_cause()->message(), "disk full");
}

TEST(runtime, the_first_shutdown_cause_is_kept) {
  runtime rt(t0);
  rt.shutdown(stop_cause::killed("first"));
  rt.shutdown(stop_cause::stopped());
  rt.shutdown(stop_cause::failed("third"));
  ASSERT_TRUE(rt.shutdown_cause().has_value());
  EXPECT_EQ(rt.shutdown_cause()->kind(), stop_kind::killed);
  EXPECT_EQ(rt.shutdown_cause()->message(), "first");
}

TEST(runtime, take_shutdown_cause_returns_the_cause_and_clears_the_request) {
  runtime rt(t0);
  rt.shutdown(stop_cause::dropped());
  std::optional<stop_cause> taken = rt.take_shutdown_cause();
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->kind(), stop_kind::dropped);
  EXPECT_FALSE(rt.is_shutdown());
  EXPECT_FALSE(rt.take_shutdown_cause().has_value());
  // After clearing, a new cause is accepted again.
  rt.shutdown(stop_cause::lost());
  ASSERT_TRUE(rt.shutdown_cause().has_value());
  EXPECT_EQ(rt.shutdown_cause()->kind(), stop_kind::lost);
}

TEST(runtime, a_loop_stops_when_a_closure_calls_shutdown) {
  runtime rt(t0);
  int steps = 0;
  struct step {
    int* steps;
    void operator()(core& c) const {
      if (++*steps == 10) {
        c.shutdown(stop_cause::stopped());
        return;
      }
      // Spread the work across runs: the next step waits for an idle run.
      c.idle(step{steps});
    }
  };
  rt.defer(step{&steps});
  int runs = 0;
  instant now = t0;
  while (!rt.is_shutdown() && runs < 1000) {
    rt.run(now, true);
    now += 1ms;
    ++runs;
  }
  EXPECT_TRUE(rt.is_shutdown());
  EXPECT_EQ(steps, 10);
  EXPECT_EQ(runs, 10);
  ASSERT_TRUE(rt.shutdown_cause().has_value());
  EXPECT_EQ(rt.shutdown_cause()->kind(), stop_kind::stopped);
}

TEST(runtime, the_rest_of_the_run_completes_after_shutdown_is_requested) {
  runtime rt(t0);
  int after = 0;
  rt.defer([](core& c) { c.shutdown(stop_cause::stopped()); });
  rt.defer([&](core&) { ++after; });
  rt.run(t0, false);
  EXPECT_TRUE(rt.is_shutdown());
  EXPECT_EQ(after, 1);
}

// ---- R6: destruction ----

TEST(runtime, destroying_the_runtime_destroys_every_queued_closure_without_running_it) {
  counts c;
  int ran = 0;
  {
    runtime rt(t0);
    for (int i = 0; i < 3000; ++i) {  // several chunks per queue
      rt.defer([k = counted(c, i), &ran](core&) { ran += 1 + k.value(); });
      rt.lazy([k = counted(c, i), &ran](core&) { ran += 1 + k.value(); });
      rt.idle([k = counted(c, i), &ran](core&) { ran += 1 + k.value(); });
    }
    EXPECT_EQ(c.alive(), 9000);
  }
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(c.destroyed, c.constructed);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(runtime, destroying_the_runtime_destroys_boxed_closures_without_running_them) {
  counts c;
  int ran = 0;
  {
    runtime rt(t0);
    struct big {
      counted k;
      char pad[2048];
    };
    rt.defer([b = big{counted(c), {}}, &ran](core&) { ran += 1 + b.k.value(); });
    rt.lazy([b = big{counted(c), {}}, &ran](core&) { ran += 1 + b.k.value(); });
    rt.idle([b = big{counted(c), {}}, &ran](core&) { ran += 1 + b.k.value(); });
    EXPECT_EQ(c.alive(), 3);
  }
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(runtime, destroying_the_runtime_after_partial_runs_destroys_only_what_remains) {
  counts c;
  int ran = 0;
  {
    runtime rt(t0);
    for (int i = 0; i < 4; ++i) rt.idle([k = counted(c), &ran](core&) { ++ran; });
    rt.run(t0, true);
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(c.alive(), 3);
  }
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

// Queues another closure of each kind from its destructor, `depth` times over.
struct requeue_on_destroy {
  core* rt;
  counts* k;
  int* ran;
  int depth;
  counted token;

  requeue_on_destroy(core* r, counts* kc, int* rn, int d)
      : rt(r), k(kc), ran(rn), depth(d), token(*kc) {}
  requeue_on_destroy(requeue_on_destroy&& o) noexcept
      : rt(std::exchange(o.rt, nullptr)), k(o.k), ran(o.ran), depth(o.depth), token(o.token) {}
  requeue_on_destroy(const requeue_on_destroy&) = delete;
  requeue_on_destroy& operator=(const requeue_on_destroy&) = delete;
  requeue_on_destroy& operator=(requeue_on_destroy&&) = delete;
  ~requeue_on_destroy() {
    if (rt == nullptr || depth == 0) return;
    rt->defer(requeue_on_destroy(rt, k, ran, depth - 1));
    rt->lazy(requeue_on_destroy(rt, k, ran, depth - 1));
    rt->idle(requeue_on_destroy(rt, k, ran, depth - 1));
  }
  void operator()(core&) { ++*ran; }
};

TEST(runtime, closures_that_queue_closures_from_their_destructors_are_all_destroyed_unrun) {
  counts c;
  int ran = 0;
  {
    runtime rt(t0);
    rt.defer(requeue_on_destroy(&rt, &c, &ran, 3));
    rt.lazy(requeue_on_destroy(&rt, &c, &ran, 2));
    rt.idle(requeue_on_destroy(&rt, &c, &ran, 1));
  }
  EXPECT_EQ(ran, 0);
  // Depth 3 makes 1 + 3 + 9 + 27 closures, depth 2 makes 13, depth 1 makes 4; every other
  // `counted` is a copy made while moving them into a queue.
  EXPECT_EQ(c.constructed - c.copied, 40 + 13 + 4);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(runtime, a_closure_deferred_through_a_deferrer_from_a_destructor_is_destroyed_unrun) {
  counts c;
  int ran = 0;
  stakker::deferrer kept;
  {
    runtime rt(t0);
    kept = rt.get_deferrer();
    struct defers_on_destroy {
      stakker::deferrer d;
      counts* k;
      int* ran;
      bool armed = true;
      defers_on_destroy(stakker::deferrer dd, counts* kk, int* r)
          : d(std::move(dd)), k(kk), ran(r) {}
      defers_on_destroy(defers_on_destroy&& o) noexcept
          : d(o.d), k(o.k), ran(o.ran), armed(std::exchange(o.armed, false)) {}
      ~defers_on_destroy() {
        if (armed) d.defer([t = counted(*k), r = ran](core&) { ++*r; });
      }
      void operator()(core&) {}
    };
    rt.defer(defers_on_destroy(rt.get_deferrer(), &c, &ran));
  }
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(c.constructed, 1 + c.moved + c.copied);
  EXPECT_GE(c.constructed, 1);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
  EXPECT_FALSE(kept.alive());
}

// ---- exceptions ----

TEST(runtime, an_exception_from_a_defer_closure_propagates_out_of_run_with_the_queue_intact) {
  counts c;
  {
    runtime rt(t0);
    std::vector<int> order;
    rt.defer([&](core&) { order.push_back(1); });
    rt.defer([&, k = counted(c)](core&) {
      order.push_back(2);
      throw std::runtime_error("boom");
    });
    rt.defer([&, k = counted(c)](core& cc) {
      order.push_back(3);
      cc.lazy([&](core&) { order.push_back(4); });
    });
    rt.lazy([&](core&) { order.push_back(5); });

    EXPECT_THROW(
        {
          try {
            rt.run(t0, false);
          } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "boom");
            throw;
          }
        },
        std::runtime_error);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    // The throwing closure was destroyed once; the next one is still queued.
    EXPECT_EQ(c.destroyed, c.constructed - 1);
    EXPECT_EQ(rt.next_wait(t0), std::optional<duration>(duration::zero()));

    rt.run(t0, false);
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 5, 4}));
    EXPECT_FALSE(rt.next_wait(t0).has_value());
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(runtime, an_exception_from_a_lazy_closure_propagates_with_the_rest_of_the_lazy_queue_intact) {
  runtime rt(t0);
  std::vector<int> order;
  rt.lazy([&](core&) {
    order.push_back(1);
    throw std::runtime_error("lazy");
  });
  rt.lazy([&](core&) { order.push_back(2); });
  EXPECT_THROW(rt.run(t0, false), std::runtime_error);
  EXPECT_EQ(order, (std::vector<int>{1}));
  rt.run(t0, false);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(runtime, an_exception_from_an_idle_closure_leaves_the_main_queue_for_the_next_run) {
  runtime rt(t0);
  std::vector<int> order;
  rt.idle([&](core&) {
    order.push_back(1);
    throw std::runtime_error("idle");
  });
  rt.idle([&](core&) { order.push_back(3); });
  rt.defer([&](core&) { order.push_back(2); });
  EXPECT_THROW(rt.run(t0, true), std::runtime_error);
  EXPECT_EQ(order, (std::vector<int>{1}));
  EXPECT_TRUE(rt.has_idle());
  EXPECT_FALSE(rt.run(t0, true));
  EXPECT_EQ(order, (std::vector<int>{1, 3, 2}));
}

TEST(runtime, calling_run_from_inside_run_throws_logic_error) {
  runtime rt(t0);
  bool caught = false;
  int inner_ran = 0;
  rt.defer([&](core&) {
    try {
      rt.run(t0, false);
    } catch (const std::logic_error&) {
      caught = true;
    }
  });
  rt.defer([&](core&) { ++inner_ran; });
  rt.run(t0, false);
  EXPECT_TRUE(caught);
  EXPECT_EQ(inner_ran, 1);  // ran once, by the outer run, not by the rejected inner one
}

TEST(runtime, run_works_again_after_a_nested_run_was_rejected_and_escaped) {
  runtime rt(t0);
  rt.defer([&](core&) { rt.run(t0, false); });
  EXPECT_THROW(rt.run(t0, false), std::logic_error);
  int ran = 0;
  rt.defer([&](core&) { ++ran; });
  EXPECT_NO_THROW(rt.run(t0, false));
  EXPECT_EQ(ran, 1);
}

// ---- queue memory ----

void burst(runtime& rt, int n, long& sum) {
  for (int i = 0; i < n; ++i) {
    rt.defer([&sum, i](core&) { sum += i; });
    rt.lazy([&sum, i](core&) { sum += i; });
    rt.idle([&sum, i](core&) { sum += i; });
  }
}

TEST(runtime, queue_memory_grown_by_a_burst_is_released_after_60_seconds_of_passed_in_time) {
  runtime rt(t0);
  const std::size_t empty_capacity = rt.queue_capacity();
  long sum = 0;
  burst(rt, 20000, sum);
  rt.run(t0, false);
  while (rt.run(t0, true)) {
  }
  EXPECT_EQ(sum, 3L * (20000L * 19999L / 2));
  const std::size_t grown = rt.queue_capacity();
  EXPECT_GT(grown, empty_capacity + 30 * stakker::detail::flat_queue::chunk_bytes);

  rt.run(t0 + 59s, false);
  EXPECT_EQ(rt.queue_capacity(), grown);  // not yet

  rt.run(t0 + 60s, false);
  const std::size_t trimmed = rt.queue_capacity();
  EXPECT_LT(trimmed, grown);
  // At most the current chunk and a few spares per queue stay.
  EXPECT_LE(trimmed, 3 * 3 * stakker::detail::flat_queue::chunk_bytes);

  // The queues still work after trimming.
  long after = 0;
  burst(rt, 100, after);
  rt.run(t0 + 61s, false);
  while (rt.run(t0 + 61s, true)) {
  }
  EXPECT_EQ(after, 3L * (100L * 99L / 2));
}

TEST(runtime, the_trim_interval_counts_from_the_last_trim) {
  runtime rt(t0);
  long sum = 0;
  rt.run(t0 + 60s, false);  // trims (nothing to release) and restarts the interval
  burst(rt, 20000, sum);
  rt.run(t0 + 60s, false);
  while (rt.run(t0 + 60s, true)) {
  }
  const std::size_t grown = rt.queue_capacity();
  rt.run(t0 + 119s, false);
  EXPECT_EQ(rt.queue_capacity(), grown);
  rt.run(t0 + 120s, false);
  EXPECT_LT(rt.queue_capacity(), grown);
}

TEST(runtime, release_memory_frees_spare_queue_memory_now) {
  runtime rt(t0);
  long sum = 0;
  burst(rt, 20000, sum);
  rt.run(t0, false);
  while (rt.run(t0, true)) {
  }
  const std::size_t grown = rt.queue_capacity();
  rt.release_memory();
  EXPECT_LT(rt.queue_capacity(), grown);
  EXPECT_LE(rt.queue_capacity(), 3 * 3 * stakker::detail::flat_queue::chunk_bytes);
  // Still usable.
  int ran = 0;
  rt.defer([&](core&) { ++ran; });
  rt.run(t0, false);
  EXPECT_EQ(ran, 1);
}

TEST(runtime, release_memory_keeps_queued_closures_intact) {
  counts c;
  {
    runtime rt(t0);
    long sum = 0;
    burst(rt, 20000, sum);
    rt.run(t0, false);  // idle items remain queued across many chunks
    rt.release_memory();
    while (rt.run(t0, true)) {
    }
    EXPECT_EQ(sum, 3L * (20000L * 19999L / 2));
    for (int i = 0; i < 3000; ++i) rt.defer([k = counted(c, i)](core&) { (void)k.value(); });
    rt.release_memory();
    rt.run(t0, false);
  }
  EXPECT_TRUE(c.balanced());
}

// ---- the virtual loop ----

TEST(runtime, the_virtual_loop_drives_the_runtime_in_virtual_time) {
  virtual_loop loop;
  std::vector<instant> seen;
  loop.core().defer([&](core& c) { seen.push_back(c.now()); });
  loop.run();
  loop.core().defer([&](core& c) { seen.push_back(c.now()); });
  loop.advance(2s);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1] - seen[0], duration(2s));
  EXPECT_EQ(loop.rt().now(), loop.now());

  int idle_ran = 0;
  for (int i = 0; i < 5; ++i) loop.core().idle([&](core&) { ++idle_ran; });
  loop.run_until_idle();
  EXPECT_EQ(idle_ran, 5);
}

}  // namespace
