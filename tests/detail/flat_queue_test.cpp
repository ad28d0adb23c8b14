// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/flat_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::runtime;
using stakker::testing::counted;
using stakker::testing::counts;

TEST(flat_queue, runs_closures_in_fifo_order_across_many_chunks) {
  runtime rt;
  std::vector<int> order;
  for (int i = 0; i < 20000; ++i) rt.defer([&order, i](core&) { order.push_back(i); });
  rt.run(rt.now(), false);
  ASSERT_EQ(order.size(), 20000u);
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(flat_queue, keeps_non_trivially_relocatable_captures_valid_when_it_grows) {
  counts c;
  {
    runtime rt;
    std::string long_text(100, 'x');
    long sum = 0;
    for (int i = 0; i < 5000; ++i)
      rt.defer([s = long_text + std::to_string(i), k = counted(c, i), &sum](core&) {
        sum += k.value() + static_cast<long>(s.size());
      });
    rt.run(rt.now(), false);
    EXPECT_GT(sum, 0);
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(flat_queue, boxes_oversized_closures_and_destroys_them_once) {
  counts c;
  {
    runtime rt;
    struct big {
      counted k;
      char pad[4096];
    };
    int ran = 0;
    rt.defer([b = big{counted(c), {}}, &ran](core&) { ran += b.k.value() + 1; });
    rt.defer([b = big{counted(c), {}}](core&) { (void)b; });
    rt.run(rt.now(), false);
    EXPECT_EQ(ran, 1);
    rt.defer([b = big{counted(c), {}}](core&) { (void)b; });  // destroyed unrun
  }
  EXPECT_TRUE(c.balanced());
}

}  // namespace
