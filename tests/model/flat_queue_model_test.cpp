// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/flat_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "model/choices.hpp"
#include "model/flat_queue_model.hpp"

// 1M random operations on the main queue (pushes of every closure size, runs, throwing and
// re-entrant closures, destroy_all, rewind, trim), checked after each against the deque
// model of tests/model/flat_queue_model.hpp (shared with tests/fuzz/flat_queue_fuzz).
// The seed is printed; STAKKER_MODEL_SEED reruns one.

namespace {

using stakker::model::flat_queue_driver;
using stakker::model::rng;

TEST(flat_queue_model, random_pushes_and_runs_run_every_closure_once_in_fifo_order) {
  const long model_ops = stakker::model::model_ops();
  const std::uint64_t seed = stakker::model::model_seed(0x5eed'f1a7'2026'0004ull);
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with STAKKER_MODEL_SEED=" + std::to_string(seed) + ")");
  rng r{seed};
  std::size_t max_queued = 0, max_bytes = 0;
  flat_queue_driver<rng> d(r);
  for (long op = 0; op < model_ops; ++op) {
    const std::string err = d.step();
    ASSERT_EQ(err, "") << "op " << op;
    max_queued = std::max(max_queued, d.queued());
    max_bytes = std::max(max_bytes, d.capacity_bytes());
  }
  ASSERT_EQ(d.finish(), "");
  // The queue spanned many chunks.
  EXPECT_GT(max_bytes, 4 * stakker::detail::flat_queue::chunk_bytes);
  std::printf(
      "flat_queue model: %ld operations, up to %zu closures queued in %zu bytes, seed %llu\n",
      model_ops, max_queued, max_bytes, static_cast<unsigned long long>(seed));
}

}  // namespace
