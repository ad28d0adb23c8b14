// SPDX-License-Identifier: MIT OR Apache-2.0
// The per-thread frame recycler (docs/coroutines.md "Cost"): blocks are cached per thread,
// and once the thread's cache is destroyed every block goes to operator new and delete.
#include "stakker/coro/detail/recycler.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/coro/sleep.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::coro::sleep_for;
using stakker::coro::spawn;
using stakker::coro::task;
using stakker::coro::detail::recycler;
using stakker::testing::counted;
using stakker::testing::counts;

task<int> quick(int v) { co_return v; }

// Sleeps for an hour: still suspended when the runtime goes.
// Its counted parameter lives in the frame from the call on.
task<int> waits(core& c, counted held) {
  co_await sleep_for(c, std::chrono::hours(1));
  co_return held.value();
}

// What the thread below saw, read by the test once it has joined.
struct teardown_report {
  counts k;
  int respawned = 0;
  int answers = 0;
};

// Constructed on first use, before the thread's recycler cache, so the thread destroys it
// after the cache (thread_local objects go in reverse order of construction).
runtime& thread_runtime() {
  static thread_local runtime rt;
  return rt;
}

void thread_body(teardown_report* report) {
  runtime& rt = thread_runtime();
  // Warm the cache: the finished tasks' frames and roots go onto its free lists.
  for (int i = 0; i < 100; ++i) spawn(rt, quick(i), ret_nop<int>());
  coro_test::run(rt);
  // Left suspended: dropped when the runtime is destroyed, after the cache. Its "none"
  // answer spawns another task, whose frame and root are allocated then.
  spawn(rt, waits(rt, counted(report->k)), ret_do<int>([report, &rt](std::optional<int> v) {
          ++report->answers;
          if (v || report->respawned > 0) return;
          ++report->respawned;
          spawn(rt, waits(rt, counted(report->k)), ret_nop<int>());
        }));
  coro_test::run(rt);
}

}  // namespace

TEST(recycler, a_runtime_destroyed_after_its_threads_cache_frees_and_spawns_through_operator_new) {
  teardown_report report;
  std::thread t(thread_body, &report);
  t.join();
  // The task was dropped, its "none" spawned one more task, which was dropped too: every
  // frame was freed (ASan/LSan check no block of the destroyed cache was reused or leaked).
  EXPECT_EQ(report.answers, 1);
  EXPECT_EQ(report.respawned, 1);
  EXPECT_TRUE(report.k.balanced());
}

TEST(recycler_death,
     a_static_runtime_destroyed_at_exit_after_mains_frame_cache_allocates_through_new) {
  // At exit, the main thread's thread_local cache is destroyed before any static object:
  // a static runtime's teardown (dropping a task whose "none" spawns another) comes after.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        static runtime rt;
        static counts k;
        for (int i = 0; i < 100; ++i) spawn(rt, quick(i), ret_nop<int>());
        coro_test::run(rt);
        spawn(rt, waits(rt, counted(k)), ret_do<int>([](std::optional<int> v) {
                if (!v) spawn(rt, waits(rt, counted(k)), ret_nop<int>());
              }));
        coro_test::run(rt);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(recycler, a_freed_block_is_reused_for_the_next_allocation_of_its_size_class) {
  void* a = recycler::allocate(40);
  recycler::deallocate(a, 40);
  void* b = recycler::allocate(48);  // the same 16-byte class
  EXPECT_EQ(a, b);
  recycler::deallocate(b, 48);
}
