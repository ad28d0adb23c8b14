// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/actor.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actor/stop_log.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

// A8: actors behind an interface, actor<I> for an abstract base I of the state type.

namespace {

using stakker::actor;
using stakker::actor_new;
using stakker::actor_own;
using stakker::call;
using stakker::call_prep;
using stakker::cx;
using stakker::inspect;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::ret_to;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker_test::stop_log;

void run(runtime& rt) { rt.run(rt.now(), false); }

struct shape {
  virtual ~shape() = default;
  virtual void grow(cx<shape>& x, int by) = 0;
  virtual void finish(cx<shape>& x) = 0;
  virtual int area() const = 0;
  void ask_area(cx<shape>&, ret<int> r) { r(area()); }
};

// Over-aligned, to exercise the layout where the parked calls sit before the state.
struct alignas(32) square final : shape {
  int side;
  counted k;
  std::vector<int> growth{};
  bool aligned_in_calls = true;
  bool self_is_interface_ref = false;
  actor<shape> expected_self{};

  square(int s, counted kk) : side(s), k(std::move(kk)) {}
  static square init(cx<square>&, int s, counted k) { return square(s, std::move(k)); }
  void grow(cx<shape>& x, int by) override {
    side += by;
    growth.push_back(by);
    aligned_in_calls =
        aligned_in_calls && reinterpret_cast<std::uintptr_t>(this) % alignof(square) == 0;
    self_is_interface_ref = x.this_actor() == expected_self;
  }
  void finish(cx<shape>& x) override { x.stop(); }
  int area() const override { return side * side; }
};

// The interface at a non-zero offset inside the state.
struct named {
  std::string name = "circle";
  virtual ~named() = default;
};
struct circle final : named, shape {
  int r = 1;
  static circle init(cx<circle>&) { return circle{}; }
  void grow(cx<shape>&, int by) override { r += by; }
  void finish(cx<shape>& x) override { x.fail("circle done"); }
  int area() const override { return 3 * r * r; }
};

static_assert(sizeof(actor<shape>) == sizeof(void*), "an interface handle is one word too");

TEST(actor_interface, calls_through_an_interface_reference_run_the_derived_members) {
  counts c;
  {
    runtime rt;
    auto sq = make_actor<&square::init>(rt, ret_nop<stop_cause>(), 2, counted(c));
    actor<shape> s = sq;         // from actor_own<square>
    actor<shape> s2 = sq.ref();  // from actor<square>
    call<&shape::grow>(s, 1);
    call(s2, &shape::grow, 2);
    call(s, [](shape& sh, cx<shape>& x) { sh.grow(x, 3); });
    run(rt);
    EXPECT_EQ(inspect(rt, sq, [](square& q) { return q.growth; }), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(inspect(rt, s, [](shape& sh) { return sh.area(); }), std::optional<int>(64));
    EXPECT_TRUE(s == s2);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_interface, an_over_aligned_state_is_aligned_in_every_call) {
  counts c;
  runtime rt;
  std::vector<actor_own<square>> many;
  for (int i = 0; i < 20; ++i) {
    many.push_back(make_actor<&square::init>(rt, ret_nop<stop_cause>(), i, counted(c)));
    call<&shape::grow>(actor<shape>(many.back()), 1);
  }
  run(rt);
  for (const auto& q : many) {
    auto where = inspect(rt, q, [](square& s) { return reinterpret_cast<std::uintptr_t>(&s); });
    ASSERT_TRUE(where.has_value());
    EXPECT_EQ(*where % 32, 0u);
    EXPECT_EQ(inspect(rt, q, [](square& s) { return s.aligned_in_calls; }),
              std::optional<bool>(true));
  }
}

TEST(actor_interface, the_cx_of_an_interface_call_refers_to_the_actor_and_can_stop_it) {
  counts c;
  stop_log log;
  runtime rt;
  auto sq = make_actor<&square::init>(rt, log.notify(), 1, counted(c));
  actor<shape> s = sq;
  call(sq, [s](square& q) { q.expected_self = s; });
  call<&shape::grow>(s, 1);
  run(rt);
  EXPECT_EQ(inspect(rt, sq, [](square& q) { return q.self_is_interface_ref; }),
            std::optional<bool>(true));
  call<&shape::finish>(s);
  run(rt);
  EXPECT_TRUE(s.is_zombie());
  EXPECT_TRUE(log.heard_once(stop_kind::stopped));
  EXPECT_EQ(c.alive(), 0);
}

TEST(actor_interface, calls_through_an_interface_are_parked_while_the_actor_is_in_prep) {
  counts c;
  {
    runtime rt;
    auto sq = actor_new<square>(rt, ret_nop<stop_cause>());
    actor<shape> s = sq;
    EXPECT_TRUE(s.is_prep());
    call<&shape::grow>(s, 5);
    call<&shape::grow>(s, 6);
    run(rt);
    EXPECT_TRUE(s.is_prep());
    EXPECT_EQ(inspect(rt, s, [](shape& sh) { return sh.area(); }), std::nullopt);
    call_prep<&square::init>(sq, 1, counted(c));
    run(rt);
    EXPECT_TRUE(s.is_ready());
    EXPECT_EQ(inspect(rt, sq, [](square& q) { return q.growth; }), (std::vector<int>{5, 6}));
    EXPECT_EQ(inspect(rt, s, [](shape& sh) { return sh.area(); }), std::optional<int>(144));
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_interface, an_interface_at_a_non_zero_offset_in_the_state_is_found) {
  stop_log log;
  runtime rt;
  auto ci = make_actor<&circle::init>(rt, log.notify());
  actor<shape> s = ci;
  call<&shape::grow>(s, 1);
  run(rt);
  EXPECT_EQ(inspect(rt, s, [](shape& sh) { return sh.area(); }), std::optional<int>(12));
  EXPECT_EQ(inspect(rt, ci, [](circle& k) { return k.name; }),
            std::optional<std::string>("circle"));
  std::optional<int> got;
  call<&shape::ask_area>(s, ret_do<int>([&](std::optional<int> v) { got = v; }));
  call<&shape::finish>(s);
  run(rt);
  EXPECT_EQ(got, std::optional<int>(12));
  ASSERT_TRUE(log.heard_once(stop_kind::failed));
  EXPECT_EQ(log.message(), "circle done");
}

// Asks a shape for its area through the interface and keeps the answer.
struct measurer {
  std::optional<int> answer = -1;
  static measurer init(cx<measurer>&) { return measurer{}; }
  void measure(cx<measurer>& x, actor<shape> s) {
    call<&shape::ask_area>(s, ret_to<int, &measurer::got>(x.this_actor()));
  }
  void got(cx<measurer>&, std::optional<int> v) { answer = v; }
};

TEST(actor_interface, rets_and_calls_through_an_interface_to_a_zombie_answer_none) {
  counts c;
  runtime rt;
  auto sq = make_actor<&square::init>(rt, ret_nop<stop_cause>(), 3, counted(c));
  auto m = make_actor<&measurer::init>(rt, ret_nop<stop_cause>());
  actor<shape> s = sq;
  call<&measurer::measure>(m, s);
  run(rt);
  EXPECT_EQ(inspect(rt, m, [](measurer& k) { return k.answer; }),
            std::optional<std::optional<int>>(9));
  sq.reset();
  run(rt);
  EXPECT_TRUE(s.is_zombie());
  call<&measurer::measure>(m, s);
  run(rt);
  EXPECT_EQ(inspect(rt, m, [](measurer& k) { return k.answer; }),
            std::optional<std::optional<int>>(std::optional<int>()));
}

TEST(actor_interface, an_empty_interface_handle_is_a_zombie) {
  actor<shape> s;
  EXPECT_FALSE(s);
  EXPECT_TRUE(s.is_zombie());
  EXPECT_FALSE(s.is_ready());
  EXPECT_FALSE(s.is_prep());
}

}  // namespace
