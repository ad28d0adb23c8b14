// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/runtime.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "stakker/deferrer.hpp"
#include "stakker/stop_cause.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::runtime;

struct thread_result {
  std::uint64_t sum = 0;
  int steps = 0;
  int runs = 0;
  int idle_ran = 0;
  bool ordered = true;
  bool own_core = true;
  bool shut_down = false;
  int anymap_value = 0;
  long alive_after = -1;
  long double_destroys = -1;
};

// One thread's work: a runtime of its own, a chain of closures spread over many runs
// through all three queues, an anymap value, a deferrer, then shutdown and destruction.
void drive(int id, thread_result& out) {
  stakker::testing::counts k;
  {
    const stakker::instant start = stakker::instant(std::chrono::hours(1 + id));
    runtime rt(start);
    rt.anymap_set(id * 1000);
    core* self = &rt;
    stakker::deferrer d = rt.get_deferrer();

    struct step {
      int id;
      int n;
      thread_result* out;
      core* self;
      stakker::deferrer d;
      stakker::testing::counted token;
      void operator()(core& c) const {
        if (&c != self) out->own_core = false;
        if (out->steps != n) out->ordered = false;
        ++out->steps;
        out->sum += static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(id + 1);
        if (n == 20000) {
          out->anymap_value = c.anymap_get<int>();
          c.shutdown(stakker::stop_cause::stopped());
          return;
        }
        step next{id, n + 1, out, self, d, token};
        switch (n % 4) {
          case 0:
            c.defer(std::move(next));
            break;
          case 1:
            c.lazy(std::move(next));
            break;
          case 2:
            d.defer(std::move(next));
            break;
          default:  // spreads the chain over many runs
            c.idle(std::move(next));
            break;
        }
        // Some work for idle runs, and some that will be left queued at destruction.
        if (n % 100 == 0) {
          c.idle([o = out, t = token](core&) { ++o->idle_ran; });
        }
      }
    };
    rt.defer(step{id, 0, &out, self, d, stakker::testing::counted(k)});

    stakker::instant now = start;
    while (!rt.is_shutdown() && out.runs < 100000) {
      rt.run(now, out.runs % 2 == 1);
      now += std::chrono::milliseconds(1);
      ++out.runs;
    }
    out.shut_down = rt.is_shutdown();
  }
  out.alive_after = k.alive();
  out.double_destroys = k.double_destroys;
}

TEST(threads, four_runtimes_on_four_threads_each_run_their_own_work) {
  constexpr int n_threads = 4;
  std::array<thread_result, n_threads> results{};
  std::vector<std::thread> threads;
  threads.reserve(n_threads);
  for (int i = 0; i < n_threads; ++i)
    threads.emplace_back([i, &results] { drive(i, results[static_cast<std::size_t>(i)]); });
  for (auto& t : threads) t.join();

  const std::uint64_t base = 20000ull * 20001ull / 2;  // sum of 0..20000
  for (int i = 0; i < n_threads; ++i) {
    const thread_result& r = results[static_cast<std::size_t>(i)];
    SCOPED_TRACE(i);
    EXPECT_TRUE(r.shut_down);
    EXPECT_EQ(r.steps, 20001);
    EXPECT_TRUE(r.ordered);
    EXPECT_TRUE(r.own_core);
    EXPECT_EQ(r.sum, base * static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(r.anymap_value, i * 1000);
    EXPECT_GT(r.idle_ran, 0);
    EXPECT_GT(r.runs, 5000);
    EXPECT_EQ(r.alive_after, 0);
    EXPECT_EQ(r.double_destroys, 0);
  }
}

TEST(threads, runtimes_created_on_one_thread_and_run_on_another_work_when_handed_over) {
  // A runtime belongs to one thread at a time; handing it over with a join in between is a
  // proper synchronisation, so the other thread may then use it.
  runtime rt(stakker::instant(std::chrono::hours(1)));
  int ran = 0;
  rt.defer([&](core&) { ++ran; });
  std::thread t([&] { rt.run(rt.now(), false); });
  t.join();
  EXPECT_EQ(ran, 1);
}

}  // namespace
