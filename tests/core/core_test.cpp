// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/core.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::runtime;
using stakker::testing::counted;
using stakker::testing::counts;

const stakker::instant t0 = stakker::instant(std::chrono::hours(1));

struct logger {
  std::string name;
};
struct loop_handle {
  int id = 0;
};

// ---- R5: the anymap ----

TEST(core, anymap_get_returns_the_value_set_for_its_type) {
  runtime rt(t0);
  core& c = rt;
  c.anymap_set(logger{"main"});
  EXPECT_EQ(c.anymap_get<logger>().name, "main");
  c.anymap_get<logger>().name = "changed";
  EXPECT_EQ(c.anymap_get<logger>().name, "changed");
}

TEST(core, anymap_try_get_returns_null_for_a_missing_type_and_the_value_otherwise) {
  runtime rt(t0);
  EXPECT_EQ(rt.anymap_try_get<logger>(), nullptr);
  rt.anymap_set(logger{"x"});
  logger* p = rt.anymap_try_get<logger>();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name, "x");
  EXPECT_EQ(p, &rt.anymap_get<logger>());
}

TEST(core, anymap_get_of_a_missing_type_throws_out_of_range) {
  runtime rt(t0);
  EXPECT_THROW((void)rt.anymap_get<logger>(), std::out_of_range);
  rt.anymap_set(loop_handle{7});
  EXPECT_THROW((void)rt.anymap_get<logger>(), std::out_of_range);
  EXPECT_NO_THROW((void)rt.anymap_get<loop_handle>());
}

TEST(core, anymap_holds_one_value_per_type_and_a_second_set_replaces_it) {
  runtime rt(t0);
  rt.anymap_set(logger{"first"});
  logger* before = rt.anymap_try_get<logger>();
  rt.anymap_set(logger{"second"});
  EXPECT_EQ(rt.anymap_get<logger>().name, "second");
  EXPECT_EQ(rt.anymap_try_get<logger>(), before);  // replaced in place, not added
  EXPECT_TRUE(rt.anymap_unset<logger>());
  EXPECT_EQ(rt.anymap_try_get<logger>(), nullptr);  // no older value left behind
}

TEST(core, anymap_keeps_values_of_different_types_apart) {
  runtime rt(t0);
  rt.anymap_set(logger{"log"});
  rt.anymap_set(loop_handle{42});
  rt.anymap_set(std::int32_t{1});
  rt.anymap_set(std::int64_t{2});
  EXPECT_EQ(rt.anymap_get<logger>().name, "log");
  EXPECT_EQ(rt.anymap_get<loop_handle>().id, 42);
  EXPECT_EQ(rt.anymap_get<std::int32_t>(), 1);
  EXPECT_EQ(rt.anymap_get<std::int64_t>(), 2);
}

TEST(core, anymap_unset_removes_only_that_type_and_reports_whether_it_was_set) {
  runtime rt(t0);
  EXPECT_FALSE(rt.anymap_unset<logger>());
  rt.anymap_set(logger{"log"});
  rt.anymap_set(loop_handle{1});
  rt.anymap_set(3.5);
  EXPECT_TRUE(rt.anymap_unset<logger>());
  EXPECT_FALSE(rt.anymap_unset<logger>());
  EXPECT_EQ(rt.anymap_try_get<logger>(), nullptr);
  EXPECT_EQ(rt.anymap_get<loop_handle>().id, 1);
  EXPECT_EQ(rt.anymap_get<double>(), 3.5);
  EXPECT_TRUE(rt.anymap_unset<double>());
  EXPECT_EQ(rt.anymap_get<loop_handle>().id, 1);
  rt.anymap_set(logger{"again"});
  EXPECT_EQ(rt.anymap_get<logger>().name, "again");
}

TEST(core, anymap_unset_destroys_the_value_once) {
  counts k;
  runtime rt(t0);
  rt.anymap_set(counted(k, 5));
  EXPECT_EQ(rt.anymap_get<counted>().value(), 5);
  EXPECT_EQ(k.alive(), 1);
  EXPECT_TRUE(rt.anymap_unset<counted>());
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

TEST(core, anymap_replacing_a_value_leaves_exactly_one_alive) {
  counts k;
  {
    runtime rt(t0);
    rt.anymap_set(counted(k, 1));
    rt.anymap_set(counted(k, 2));
    EXPECT_EQ(k.alive(), 1);
    EXPECT_EQ(rt.anymap_get<counted>().value(), 2);
  }
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

TEST(core, anymap_values_are_destroyed_with_the_runtime) {
  counts k;
  {
    runtime rt(t0);
    rt.anymap_set(counted(k, 1));
    rt.anymap_set(std::make_unique<counted>(k, 2));
    rt.anymap_set(std::vector<counted>{counted(k, 3), counted(k, 4)});
    EXPECT_EQ(k.alive(), 4);
  }
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

TEST(core, an_anymap_value_that_queues_work_when_destroyed_has_that_work_destroyed_unrun) {
  counts k;
  int ran = 0;
  struct handle {
    core* c;
    counts* k;
    int* ran;
    handle(core* cc, counts* kk, int* r) : c(cc), k(kk), ran(r) {}
    handle(handle&& o) noexcept : c(std::exchange(o.c, nullptr)), k(o.k), ran(o.ran) {}
    handle& operator=(handle&& o) noexcept {
      c = std::exchange(o.c, nullptr);
      k = o.k;
      ran = o.ran;
      return *this;
    }
    ~handle() {
      if (c != nullptr) c->defer([t = counted(*k), r = ran](core&) { ++*r; });
    }
  };
  {
    runtime rt(t0);
    rt.anymap_set(handle(&rt, &k, &ran));
  }
  EXPECT_EQ(ran, 0);
  // The handle's destructor did queue its closure (one `counted` made, the rest are moves).
  EXPECT_EQ(k.constructed - k.moved - k.copied, 1);
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

// ---- defer, lazy and idle ----

TEST(core, defer_does_not_run_the_closure_inline) {
  runtime rt(t0);
  int ran = 0;
  rt.defer([&](core&) { ++ran; });
  EXPECT_EQ(ran, 0);
  rt.run(t0, false);
  EXPECT_EQ(ran, 1);
  rt.run(t0, false);
  EXPECT_EQ(ran, 1);  // one-shot
}

TEST(core, closures_receive_the_core_of_their_runtime) {
  runtime rt(t0);
  core* seen_main = nullptr;
  core* seen_lazy = nullptr;
  core* seen_idle = nullptr;
  rt.defer([&](core& c) { seen_main = &c; });
  rt.lazy([&](core& c) { seen_lazy = &c; });
  rt.idle([&](core& c) { seen_idle = &c; });
  rt.run(t0, true);
  core* expected = &rt;
  EXPECT_EQ(seen_main, expected);
  EXPECT_EQ(seen_lazy, expected);
  EXPECT_EQ(seen_idle, expected);
}

TEST(core, lazy_does_not_run_the_closure_inline) {
  runtime rt(t0);
  int ran = 0;
  rt.lazy([&](core&) { ++ran; });
  EXPECT_EQ(ran, 0);
  rt.run(t0, false);
  EXPECT_EQ(ran, 1);
}

TEST(core, idle_runs_only_on_an_idle_run) {
  runtime rt(t0);
  int ran = 0;
  rt.idle([&](core&) { ++ran; });
  rt.run(t0, false);
  rt.run(t0, false);
  EXPECT_EQ(ran, 0);
  rt.run(t0, true);
  EXPECT_EQ(ran, 1);
}

TEST(core, mutable_closures_may_change_their_captures) {
  runtime rt(t0);
  int result = 0;
  rt.defer([n = 1, &result](core&) mutable {
    n += 41;
    result = n;
  });
  rt.run(t0, false);
  EXPECT_EQ(result, 42);
}

TEST(core, move_only_captures_are_accepted_and_destroyed_after_running) {
  runtime rt(t0);
  auto owned = std::make_shared<int>(9);
  std::weak_ptr<int> watch = owned;
  int seen = 0;
  rt.defer(
      [p = std::make_unique<std::shared_ptr<int>>(std::move(owned)), &seen](core&) { seen = **p; });
  EXPECT_FALSE(watch.expired());
  rt.run(t0, false);
  EXPECT_EQ(seen, 9);
  EXPECT_TRUE(watch.expired());
}

TEST(core, captures_are_destroyed_exactly_once_after_the_closure_runs) {
  counts k;
  runtime rt(t0);
  int sum = 0;
  rt.defer([a = counted(k, 1), &sum](core&) { sum += a.value(); });
  rt.lazy([a = counted(k, 2), &sum](core&) { sum += a.value(); });
  rt.idle([a = counted(k, 3), &sum](core&) { sum += a.value(); });
  rt.run(t0, true);
  EXPECT_EQ(sum, 6);
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

TEST(core, an_lvalue_closure_is_copied_into_the_queue) {
  runtime rt(t0);
  int ran = 0;
  auto f = [&ran](core&) { ++ran; };
  rt.defer(f);
  rt.defer(f);
  f(rt);
  EXPECT_EQ(ran, 1);
  rt.run(t0, false);
  EXPECT_EQ(ran, 3);
}

TEST(core, over_aligned_and_oversized_closures_run_with_their_captures_intact) {
  runtime rt(t0);
  struct alignas(64) aligned {
    int v;
  };
  struct big {
    char bytes[3000];
  };
  bool aligned_ok = false;
  int aligned_value = 0;
  int big_sum = 0;
  big b{};
  for (std::size_t i = 0; i < sizeof b.bytes; ++i) b.bytes[i] = static_cast<char>(i % 7);
  rt.defer([a = aligned{17}, &aligned_ok, &aligned_value](core&) {
    aligned_ok = reinterpret_cast<std::uintptr_t>(&a) % 64 == 0;
    aligned_value = a.v;
  });
  rt.lazy([b, &big_sum](core&) {
    for (char ch : b.bytes) big_sum += ch;
  });
  rt.run(t0, false);
  EXPECT_TRUE(aligned_ok);
  EXPECT_EQ(aligned_value, 17);
  int expected = 0;
  for (std::size_t i = 0; i < sizeof b.bytes; ++i) expected += static_cast<int>(i % 7);
  EXPECT_EQ(big_sum, expected);
}

TEST(core, closures_queued_from_a_closure_through_its_core_run_in_the_same_run) {
  runtime rt(t0);
  std::vector<std::string> order;
  rt.defer([&](core& c) {
    order.push_back("main");
    c.lazy([&](core&) { order.push_back("lazy"); });
    c.defer([&](core&) { order.push_back("main2"); });
  });
  rt.run(t0, false);
  EXPECT_EQ(order, (std::vector<std::string>{"main", "main2", "lazy"}));
}

// ---- teardown: user code run while the runtime is destroyed may use the runtime ----

// Sets an anymap value (and a timer) from its destructor, as a closure or actor state may.
struct sets_on_destroy {
  core* c;
  counts* k;
  sets_on_destroy(core* cc, counts* kk) : c(cc), k(kk) {}
  sets_on_destroy(sets_on_destroy&& o) noexcept : c(std::exchange(o.c, nullptr)), k(o.k) {}
  sets_on_destroy& operator=(sets_on_destroy&& o) noexcept {
    std::swap(c, o.c);
    k = o.k;
    return *this;
  }
  ~sets_on_destroy() {
    if (c == nullptr) return;
    c->anymap_set(counted(*k, 1));
    c->after(std::chrono::seconds(1), [t = counted(*k, 2)](core&) {});
  }
  void operator()(core&) {}
};

TEST(core, an_anymap_value_set_by_a_queued_closure_destroyed_in_teardown_is_destroyed) {
  counts k;
  {
    runtime rt(t0);
    rt.defer(sets_on_destroy(&rt, &k));
  }
  EXPECT_EQ(k.constructed - k.moved - k.copied, 2);
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

TEST(core, an_anymap_value_set_by_a_timer_closure_destroyed_in_teardown_is_destroyed) {
  counts k;
  {
    runtime rt(t0);
    rt.after(std::chrono::seconds(5), sets_on_destroy(&rt, &k));
  }
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

TEST(core, an_anymap_value_set_by_another_anymap_values_destructor_is_destroyed) {
  counts k;
  struct outer {
    std::optional<sets_on_destroy> s;
  };
  {
    runtime rt(t0);
    rt.anymap_set(outer{sets_on_destroy(&rt, &k)});
  }
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

TEST(core, a_closure_that_throws_leaves_run_and_the_rest_of_the_queue_runs_next_time) {
  runtime rt(t0);
  std::vector<int> order;
  rt.defer([&order](core&) { order.push_back(1); });
  rt.defer([](core&) { throw std::runtime_error("boom"); });
  rt.defer([&order](core&) { order.push_back(3); });
  EXPECT_THROW(rt.run(t0, false), std::runtime_error);
  EXPECT_EQ(order, std::vector<int>{1});
  rt.run(t0, false);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST(core, a_closure_may_queue_so_much_that_the_queue_grows_under_it) {
  runtime rt(t0);
  long sum = 0;
  rt.defer([&sum](core& c) {
    for (int i = 0; i < 100000; ++i)
      c.defer([&sum, i, pad = std::string(40, 'p')](core&) { sum += i; });
  });
  rt.run(t0, false);
  EXPECT_EQ(sum, 100000L * 99999 / 2);
}

TEST(core, running_the_runtime_from_inside_a_closure_is_a_logic_error) {
  runtime rt(t0);
  bool threw = false;
  rt.defer([&threw, &rt](core&) {
    try {
      rt.run(t0, false);
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  rt.run(t0, false);
  EXPECT_TRUE(threw);
}

TEST(core, an_exception_from_a_dropped_ret_whose_rethrow_never_ran_is_reported_at_teardown) {
  testing::internal::CaptureStderr();
  {
    runtime rt(t0);
    rt.defer([](core&) {
      stakker::ret<int> r = stakker::ret_do<int>(
          [](std::optional<int>) { throw std::runtime_error("dropped answer"); });
    });  // queues the rethrow at the end of the queue
    rt.defer([](core&) { throw std::logic_error("first"); });  // leaves run before it
    EXPECT_THROW(rt.run(t0, false), std::logic_error);
  }  // the rethrow closure is destroyed unrun
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("dropped answer"), std::string::npos) << err;
}

}  // namespace
