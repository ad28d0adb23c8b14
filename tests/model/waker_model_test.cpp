// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/sync/waker.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "model/choices.hpp"
#include "model/waker_model.hpp"

// 1M random operations on wakers (make, wake through the waker or a ref, reset, run, poll
// waker changes, handlers that throw, reset themselves or make wakers), checked after each
// against the model of tests/model/waker_model.hpp (shared with tests/fuzz/waker_fuzz).
// The seed is printed; STAKKER_MODEL_SEED reruns one.

namespace {

using stakker::model::rng;
using stakker::model::waker_driver;

TEST(waker_model, random_wakes_resets_and_runs_deliver_every_wake_once_and_nothing_else) {
  const long model_ops = stakker::model::model_ops();
  const std::uint64_t seed = stakker::model::model_seed(0x5eed'3a4e'2026'0002ull);
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with STAKKER_MODEL_SEED=" + std::to_string(seed) + ")");
  rng r{seed};
  waker_driver<rng> d(r);
  for (long op = 0; op < model_ops; ++op) {
    const std::string err = d.step();
    ASSERT_EQ(err, "") << "op " << op;
  }
  ASSERT_EQ(d.drain(), "");
  // The workload did what it is meant to exercise.
  EXPECT_GT(d.calls(), model_ops / 10);
  EXPECT_GT(d.throws(), model_ops / 1000);
  EXPECT_GT(d.made(), 10'000u);
  std::printf("waker model: %ld operations, %zu wakers, %ld handler calls (%ld threw), seed %llu\n",
              model_ops, d.made(), d.calls(), d.throws(), static_cast<unsigned long long>(seed));
}

}  // namespace
