// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/sync/channel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "model/channel_model.hpp"
#include "model/choices.hpp"
#include "stakker/runtime.hpp"

// 1M random operations on channels on the runtime thread, checked after each against the
// model of tests/model/channel_model.hpp (shared with tests/fuzz/channel_fuzz); then
// producer threads against a runtime thread, checked for what threads make observable:
// per producer, the values delivered are the values accepted, in order. Seeds are printed;
// STAKKER_MODEL_SEED reruns one.

namespace {

using stakker::channel_overflow;
using stakker::core;
using stakker::send_result;
using stakker::model::channel_driver;
using stakker::model::rng;

std::string seed_text(std::uint64_t seed) {
  return "seed " + std::to_string(seed) +
         " (rerun with STAKKER_MODEL_SEED=" + std::to_string(seed) + ")";
}

TEST(channel_model, random_sends_runs_throws_and_closes_deliver_what_was_accepted_in_order) {
  const long model_ops = stakker::model::model_ops();
  const std::uint64_t seed = stakker::model::model_seed(0x5eed'c4a2'2026'0003ull);
  SCOPED_TRACE(seed_text(seed));
  rng r{seed};
  channel_driver<rng> d(r);
  for (long op = 0; op < model_ops; ++op) {
    const std::string err = d.step();
    ASSERT_EQ(err, "") << "op " << op;
  }
  ASSERT_EQ(d.finish(), "");
  const long delivered = d.delivered(), throws = d.throws(), refused = d.refused();
  // The workload did what it is meant to exercise.
  EXPECT_GT(delivered, model_ops / 10);
  EXPECT_GT(throws, model_ops / 1000);
  EXPECT_GT(refused, model_ops / 100);
  std::printf(
      "channel model: %ld operations, %ld values delivered, %ld refused, %ld throws, "
      "seed %llu\n",
      model_ops, delivered, refused, throws, static_cast<unsigned long long>(seed));
}

// A value: which producer sent it and its sequence number there.
struct tagged {
  int producer;
  int seq;
};

// `producers` threads each send `per_producer` values into a channel of `capacity` (0:
// unbounded) with `overflow`, while the runtime thread runs until the producers are done and
// everything accepted has arrived, its receiver throwing now and then; if `close_after` is
// set, the runtime thread closes the channel after that many values instead.
void run_threads(std::uint64_t seed, int producers, int per_producer, std::size_t capacity,
                 channel_overflow overflow, long close_after) {
  SCOPED_TRACE(seed_text(seed));
  stakker::runtime rt;
  std::atomic<bool> woken{false};
  rt.set_poll_waker([&woken] {
    woken.store(true);
    woken.notify_one();
  });
  rng r{seed};
  std::vector<std::vector<int>> got(static_cast<std::size_t>(producers));
  long received = 0;
  auto [ch, guard] =
      stakker::make_channel<tagged>(rt, stakker::fwd_do<tagged>([&](tagged t) {
                                      got[static_cast<std::size_t>(t.producer)].push_back(t.seq);
                                      ++received;
                                      if (r.below(500) == 0)
                                        throw std::runtime_error("receiver threw");
                                    }),
                                    capacity, overflow);
  std::vector<std::vector<int>> accepted(static_cast<std::size_t>(producers));
  std::atomic<int> done{0};
  std::vector<std::thread> pool;
  for (int p = 0; p < producers; ++p) {
    pool.emplace_back([&, p, ch = ch] {
      auto& mine = accepted[static_cast<std::size_t>(p)];
      for (int i = 0; i < per_producer; ++i) {
        const send_result res = ch.try_send(tagged{p, i});
        if (res == send_result::sent) mine.push_back(i);
        if (res == send_result::closed) break;
        if (res == send_result::full) std::this_thread::yield();
      }
      done.fetch_add(1);
      woken.store(true);
      woken.notify_one();
    });
  }
  long throws = 0;
  bool closed = false;
  for (;;) {
    woken.wait(false);
    woken.store(false);
    try {
      rt.run(rt.now(), false);
    } catch (const std::runtime_error&) {
      ++throws;
    }
    if (close_after != 0 && !closed && received >= close_after) {
      guard.close();
      closed = true;
    }
    if (done.load() == producers) {
      // Everything accepted has arrived (or the channel is closed): then no more wakes come.
      long total = 0;
      for (const auto& a : accepted) total += static_cast<long>(a.size());
      if (closed || received == total) break;
    }
  }
  for (auto& t : pool) t.join();
  for (int p = 0; p < producers; ++p) {
    const auto& a = accepted[static_cast<std::size_t>(p)];
    const auto& g = got[static_cast<std::size_t>(p)];
    if (closed) {
      ASSERT_LE(g.size(), a.size()) << "producer " << p;
      ASSERT_TRUE(std::equal(g.begin(), g.end(), a.begin())) << "producer " << p;
    } else {
      ASSERT_EQ(g, a) << "producer " << p;
      if (overflow == channel_overflow::block || capacity == 0) {
        ASSERT_EQ(static_cast<int>(a.size()), per_producer) << "producer " << p;
      }
    }
  }
  EXPECT_GT(throws, 0);
}

TEST(channel_model, threads_into_a_bounded_blocking_channel_lose_and_reorder_nothing) {
  run_threads(stakker::model::model_seed(31), 4, 20'000, 8, channel_overflow::block, 0);
}

TEST(channel_model, threads_into_a_bounded_refusing_channel_get_what_was_accepted_in_order) {
  run_threads(stakker::model::model_seed(32), 4, 20'000, 8, channel_overflow::refuse, 0);
}

TEST(channel_model, threads_into_an_unbounded_channel_lose_and_reorder_nothing) {
  run_threads(stakker::model::model_seed(33), 4, 20'000, 0, channel_overflow::refuse, 0);
}

TEST(channel_model, closing_while_threads_block_delivers_a_prefix_of_each_producers_values) {
  run_threads(stakker::model::model_seed(34), 4, 20'000, 4, channel_overflow::block, 10'000);
}

}  // namespace
