// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/detail/io_buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "model/choices.hpp"
#include "model/io_buffer_model.hpp"

// 1M random operations on an io_buffer, checked after each against a std::string holding
// the same bytes (tests/model/io_buffer_model.hpp, shared with tests/fuzz/io_buffer_fuzz).
// The seed is printed; STAKKER_MODEL_SEED reruns one.

namespace {

using stakker::model::io_buffer_driver;
using stakker::model::rng;

TEST(io_buffer_model, random_prepare_commit_append_consume_and_release_match_a_string) {
  const long model_ops = stakker::model::model_ops();
  const std::uint64_t seed = stakker::model::model_seed(0x5eed'10bf'2026'0001ull);
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with STAKKER_MODEL_SEED=" + std::to_string(seed) + ")");
  rng r{seed};
  io_buffer_driver<rng> d(r);
  std::size_t max_size = 0, max_capacity = 0;
  for (long op = 0; op < model_ops; ++op) {
    const std::string err = d.step();
    ASSERT_EQ(err, "") << "op " << op;
    max_size = std::max(max_size, d.buf().size());
    max_capacity = std::max(max_capacity, d.buf().capacity());
  }
  // The workload grew the buffer well past one allocation and filled it.
  EXPECT_GT(max_size, 32 * 1024u);
  EXPECT_GT(max_capacity, 4 * 4096u);
  std::printf("io_buffer model: %ld operations, up to %zu bytes held in %zu, seed %llu\n",
              model_ops, max_size, max_capacity, static_cast<unsigned long long>(seed));
}

}  // namespace
