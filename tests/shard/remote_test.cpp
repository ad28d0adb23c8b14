// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/shard/remote.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor;
using stakker::actor_own;
using stakker::core;
using stakker::cx;
using stakker::ret;
using stakker::runtime;
using stakker::shard::make_remote;
using stakker::shard::remote;
using stakker::shard::remote_ret;

void run(runtime& rt) { rt.run(rt.now(), false); }

// Two runtimes driven by hand on this thread and one other, with poll wakers that count.
struct side {
  runtime rt;
  std::atomic<int> polls{0};
  side() {
    rt.set_poll_waker([this] { polls.fetch_add(1); });
  }
  ~side() { rt.clear_poll_waker(); }
};

struct adder {
  std::vector<int> got;
  std::string last_text;
  static std::optional<adder> init(cx<adder>&) { return adder{}; }
  void add(cx<adder>&, int v) { got.push_back(v); }
  void text(cx<adder>&, const std::string& s) { last_text = s; }
  void sum(cx<adder>&, int a, int b, ret<int> r) { r(a + b); }
  void ignore(cx<adder>&, ret<int>) {}
  void stop(cx<adder>& x) { x.stop(); }
};

actor_own<adder> make_adder(runtime& rt) {
  auto a = stakker::make_actor<&adder::init>(rt, stakker::ret_nop<stakker::stop_cause>());
  run(rt);
  return a;
}

TEST(remote, calls_through_a_remote_from_one_sender_run_on_the_home_in_the_order_sent) {
  side home;
  auto a = make_adder(home.rt);
  remote<adder> r = make_remote(a);
  std::thread t([r] {
    for (int i = 0; i < 1000; ++i) call<&adder::add>(r, i);
  });
  t.join();
  run(home.rt);
  const adder& st = *stakker::detail::actor_access::state(a.ref());
  ASSERT_EQ(st.got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(st.got[static_cast<std::size_t>(i)], i);
}

TEST(remote, arguments_are_converted_to_the_members_parameter_types_on_the_sending_thread) {
  side home;
  auto a = make_adder(home.rt);
  remote<adder> r = make_remote(a);
  std::thread t([r] {
    char buf[8] = "hello";
    call<&adder::text>(r, buf);  // a std::string is made here: the buffer may go
    buf[0] = 'j';
  });
  t.join();
  run(home.rt);
  EXPECT_EQ(stakker::detail::actor_access::state(a.ref())->last_text, "hello");
}

TEST(remote, a_remote_ret_is_answered_on_the_runtime_that_made_it) {
  side home;
  side origin;
  auto a = make_adder(home.rt);
  remote<adder> r = make_remote(a);
  std::optional<int> answer;
  std::thread::id answered_on;
  origin.rt.defer([&](core&) {
    call<&adder::sum>(r, 2, 3, make_remote(stakker::ret_do<int>([&](std::optional<int> v) {
                        answer = v;
                        answered_on = std::this_thread::get_id();
                      })));
  });
  run(origin.rt);
  std::thread t([&] { run(home.rt); });  // the home on another thread
  t.join();
  EXPECT_FALSE(answer);
  run(origin.rt);
  EXPECT_EQ(answer, 5);
  EXPECT_EQ(answered_on, std::this_thread::get_id());
}

TEST(remote, a_remote_ret_dropped_on_the_home_answers_none_on_its_origin_once) {
  side home;
  side origin;
  auto a = make_adder(home.rt);
  remote<adder> r = make_remote(a);
  int answers = 0;
  std::optional<int> answer = 42;
  origin.rt.defer([&](core&) {
    call<&adder::ignore>(r, make_remote(stakker::ret_do<int>([&](std::optional<int> v) {
                           ++answers;
                           answer = v;
                         })));
  });
  run(origin.rt);
  run(home.rt);
  run(origin.rt);
  EXPECT_EQ(answers, 1);
  EXPECT_FALSE(answer);
}

TEST(remote, calls_to_a_zombie_are_dropped_and_their_remote_ret_answers_none) {
  side home;
  side origin;
  auto a = make_adder(home.rt);
  remote<adder> r = make_remote(a);
  call<&adder::stop>(r);
  run(home.rt);
  ASSERT_TRUE(a.is_zombie());
  int answers = 0;
  std::optional<int> answer = 42;
  origin.rt.defer([&](core&) {
    call<&adder::sum>(r, 1, 1, make_remote(stakker::ret_do<int>([&](std::optional<int> v) {
                        ++answers;
                        answer = v;
                      })));
  });
  run(origin.rt);
  run(home.rt);
  run(origin.rt);
  EXPECT_EQ(answers, 1);
  EXPECT_FALSE(answer);
}

TEST(remote, calls_to_a_home_that_is_gone_destroy_their_arguments_and_remote_rets_answer_none) {
  side origin;
  std::optional<remote<adder>> r;
  {
    side home;
    auto a = make_adder(home.rt);
    r = make_remote(a);
  }
  int answers = 0;
  std::optional<int> answer = 42;
  origin.rt.defer([&](core&) {
    call<&adder::sum>(*r, 1, 1, make_remote(stakker::ret_do<int>([&](std::optional<int> v) {
      ++answers;
      answer = v;
    })));
  });
  run(origin.rt);
  run(origin.rt);
  EXPECT_EQ(answers, 1);
  EXPECT_FALSE(answer);
}

TEST(remote, the_last_remote_dropped_on_another_thread_releases_the_actor_reference_on_its_home) {
  side home;
  auto a = make_adder(home.rt);
  stakker::detail::actor_block* b = stakker::detail::actor_access::block(a.ref());
  const std::uint32_t refs_before = b->refs;
  remote<adder> r = make_remote(a);
  EXPECT_EQ(b->refs, refs_before + 1);
  std::thread t([r = std::move(r)]() mutable { r = remote<adder>(); });
  t.join();
  EXPECT_EQ(b->refs, refs_before + 1);  // still held until the home runs
  run(home.rt);
  EXPECT_EQ(b->refs, refs_before);
}

TEST(remote, a_remote_fwd_delivers_each_value_on_its_origin_in_the_order_sent) {
  side origin;
  std::vector<int> got;
  std::optional<stakker::shard::remote_fwd<int>> f;
  origin.rt.defer([&](core&) {
    f = stakker::shard::make_remote(stakker::fwd_do<int>([&](int v) { got.push_back(v); }));
  });
  run(origin.rt);
  std::thread t([g = *f] {
    for (int i = 0; i < 100; ++i) g(i);
  });
  t.join();
  EXPECT_TRUE(got.empty());
  run(origin.rt);
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST(remote, make_remote_of_a_ret_outside_a_run_is_a_logic_error) {
  EXPECT_THROW(make_remote(stakker::ret_nop<int>()), std::logic_error);
}

TEST(remote, answering_a_remote_ret_twice_is_a_logic_error) {
  side origin;
  std::optional<remote_ret<int>> r;
  origin.rt.defer([&](core&) { r = make_remote(stakker::ret_nop<int>()); });
  run(origin.rt);
  (*r)(1);
  EXPECT_THROW((*r)(2), std::logic_error);
}

TEST(remote, calls_in_flight_when_the_last_remote_goes_elsewhere_are_delivered_then_released) {
  side home;
  auto a = make_adder(home.rt);
  stakker::detail::actor_block* b = stakker::detail::actor_access::block(a.ref());
  const std::uint32_t refs_before = b->refs;
  std::optional<remote<adder>> r = make_remote(a);
  // This thread's lane first, so that the home takes it first.
  stakker::detail::inbox::of(home.rt)->post([] {});
  // Another thread sends through its own lane and lets go; then this thread drops the last
  // handle: its release, through this thread's lane, may be taken before those calls.
  std::thread t([copy = *r]() mutable {
    for (int i = 0; i < 500; ++i) call<&adder::add>(copy, i);
    copy = remote<adder>();
  });
  t.join();
  r.reset();
  run(home.rt);
  run(home.rt);
  EXPECT_EQ(stakker::detail::actor_access::state(a.ref())->got.size(), 500u);
  EXPECT_EQ(b->refs, refs_before);  // released once they had run
}

}  // namespace
