// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/inbox.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "shard/tracked.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::runtime;
using stakker::detail::inbox;
using stakker::detail::lane;
using stakker::testing::counted;
using stakker::testing::counts;

void run(runtime& rt) { rt.run(rt.now(), false); }

// A runtime with a poll waker that counts its calls.
struct home {
  runtime rt;
  std::atomic<int> polls{0};
  home() {
    rt.set_poll_waker([this] { polls.fetch_add(1); });
  }
  ~home() { rt.clear_poll_waker(); }
  inbox& box() { return *inbox::of(rt); }
};

TEST(inbox, posts_from_one_thread_run_on_the_home_in_the_order_made_on_a_later_run) {
  home h;
  std::vector<int> got;
  std::thread t([&] {
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(h.box().post([&got, i] { got.push_back(i); }));
  });
  t.join();
  EXPECT_TRUE(got.empty());
  run(h.rt);
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST(inbox, posts_made_inside_a_run_are_published_once_at_its_end_with_one_wake) {
  home a;
  home b;
  inbox& to_b = b.box();
  int got = 0;
  int published_mid_run = -1;
  a.rt.defer([&](core&) {
    for (int i = 0; i < 100; ++i) to_b.post([&got] { ++got; });
    published_mid_run = b.polls.load();
  });
  run(a.rt);
  EXPECT_EQ(published_mid_run, 0);  // nothing visible before the end of the run
  EXPECT_EQ(b.polls.load(), 1);     // one wake for the whole batch
  run(b.rt);
  EXPECT_EQ(got, 100);
}

TEST(inbox, a_long_run_publishes_each_quarter_of_the_ring_without_waiting_for_its_end) {
  home a;
  home b;
  inbox& to_b = b.box();
  int got = 0;
  int woken_mid_run = 0;
  a.rt.defer([&](core&) {
    // 300 records of 32 bytes: 9.6 KB, more than a quarter of a 16 KiB ring, less than all.
    for (int i = 0; i < 300; ++i) to_b.post([&got] { ++got; });
    woken_mid_run = b.polls.load();
  });
  run(a.rt);
  EXPECT_EQ(woken_mid_run, 1);  // published at 4 KiB; no second wake until b takes
  std::thread t([&] { run(b.rt); });
  t.join();
  EXPECT_EQ(got, 300);
}

TEST(inbox, a_second_batch_before_the_home_takes_the_first_does_not_wake_it_again) {
  home h;
  inbox& box = h.box();
  std::thread t([&] {
    box.post([] {});
    box.post([] {});
  });
  t.join();
  EXPECT_EQ(h.polls.load(), 1);
  run(h.rt);
  std::thread t2([&] { box.post([] {}); });
  t2.join();
  EXPECT_EQ(h.polls.load(), 2);
}

TEST(inbox, a_lane_whose_home_falls_behind_grows_in_order_and_nothing_is_lost) {
  home h;
  inbox& box = h.box();
  std::shared_ptr<lane> l = box.open_lane({2048});  // two blocks of 1 KiB
  std::vector<int> got;
  std::array<char, 200> big{};
  for (int i = 0; i < 100; ++i) l->push([&got, i, big] { got.push_back(i + big[0]); }, true);
  // 100 records of 240 bytes wait, 4 to a 1 KiB block: 25 KiB, over 20 KiB past its 2 KiB.
  EXPECT_GT(l->spill_high_water(), 20'000u);
  EXPECT_LE(l->spill_high_water(), 25u * 1024u);
  EXPECT_EQ(box.spill_high_water(), l->spill_high_water());
  run(h.rt);
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
  // Its blocks were handed back as it emptied; it carries on from where it is.
  for (int i = 0; i < 3; ++i) l->push([&got, i] { got.push_back(1000 + i); }, true);
  run(h.rt);
  EXPECT_EQ(got.back(), 1002);
}

TEST(inbox, a_home_that_keeps_up_never_sees_its_lanes_grow) {
  home h;
  std::shared_ptr<lane> l = h.box().open_lane({2048});
  long sum = 0;
  std::array<char, 100> pad{};
  for (int round = 0; round < 1000; ++round) {
    for (int i = 0; i < 5; ++i) l->push([&sum, pad] { sum += 1 + pad[0]; }, true);  // 5 x 128 B
    run(h.rt);
  }
  EXPECT_EQ(sum, 5000);
  EXPECT_EQ(l->spill_high_water(), 0u);  // the blocks went round: nothing waited past 2 KiB
}

// The block pool: what a lane that fell behind handed back is kept by its inbox, so that
// the next burst (from any thread's lane) faults in no new memory.
TEST(inbox, blocks_a_lane_handed_back_are_kept_and_a_new_lane_takes_them_in_order) {
  home h;
  inbox& box = h.box();
  std::shared_ptr<lane> l = box.open_lane();  // the inbox's own size: 8 KiB blocks
  std::vector<int> got;
  std::array<char, 200> pad{};
  // 400 records of 216 bytes: about 11 blocks beyond the first.
  for (int i = 0; i < 400; ++i) l->push([&got, i, pad] { got.push_back(i + pad[0]); }, true);
  EXPECT_EQ(box.pooled_blocks(), 0u);
  run(h.rt);
  ASSERT_EQ(got.size(), 400u);
  const std::size_t kept = box.pooled_blocks();
  EXPECT_GE(kept, 9u);                         // all but the lane's block and its spare
  std::shared_ptr<lane> l2 = box.open_lane();  // its first block comes from the pool
  EXPECT_EQ(box.pooled_blocks(), kept - 1);
  for (int i = 0; i < 400; ++i)
    l2->push([&got, i, pad] { got.push_back(1000 + i + pad[0]); }, true);
  EXPECT_LE(box.pooled_blocks(), 1u);  // the burst took the pool's blocks, not new ones
  run(h.rt);
  ASSERT_EQ(got.size(), 800u);
  for (int i = 0; i < 400; ++i) EXPECT_EQ(got[400 + static_cast<std::size_t>(i)], 1000 + i);
  EXPECT_GE(box.pooled_blocks(), kept - 1);
}

TEST(inbox, release_memory_keeps_the_blocks_used_since_the_last_release_and_frees_the_rest) {
  home h;
  inbox& box = h.box();
  std::shared_ptr<lane> l = box.open_lane();
  int ran = 0;
  std::array<char, 200> pad{};
  for (int i = 0; i < 400; ++i) l->push([&ran, pad] { ran += 1 + pad[0]; }, true);
  run(h.rt);
  EXPECT_EQ(ran, 400);
  const std::size_t kept = box.pooled_blocks();
  ASSERT_GE(kept, 9u);
  h.rt.release_memory();  // this period needed them all: kept
  EXPECT_EQ(box.pooled_blocks(), kept);
  h.rt.release_memory();  // a period without a burst: given back
  EXPECT_EQ(box.pooled_blocks(), 0u);
  // And every 60 s of the runtime's time, with its other memory.
  for (int i = 0; i < 400; ++i) l->push([&ran, pad] { ran += 1 + pad[0]; }, true);
  run(h.rt);
  EXPECT_GE(box.pooled_blocks(), 9u);
  h.rt.run(h.rt.now() + std::chrono::seconds(61), false);
  EXPECT_GE(box.pooled_blocks(), 9u);
  h.rt.run(h.rt.now() + std::chrono::seconds(61), false);
  EXPECT_EQ(box.pooled_blocks(), 0u);
  EXPECT_EQ(ran, 800);
}

TEST(inbox, a_lane_of_another_block_size_frees_its_blocks_instead_of_pooling_them) {
  home h;
  inbox& box = h.box();
  std::shared_ptr<lane> l = box.open_lane({2048});
  int ran = 0;
  std::array<char, 200> pad{};
  for (int i = 0; i < 100; ++i) l->push([&ran, pad] { ran += 1 + pad[0]; }, true);
  run(h.rt);
  EXPECT_EQ(ran, 100);
  EXPECT_EQ(box.pooled_blocks(), 0u);
}

// An inbox made apart and closed is taken off its runtime's list of memory to trim: the
// runtime's release after the inbox is gone must not reach it (ASan).
TEST(inbox, one_made_apart_closed_and_gone_is_not_trimmed_by_its_runtime) {
  home h;
  std::weak_ptr<inbox> seen;
  {
    std::shared_ptr<inbox> own = inbox::make(h.rt);
    seen = own;
    std::shared_ptr<lane> l = own->open_lane();
    std::array<char, 200> pad{};
    int ran = 0;
    for (int i = 0; i < 100; ++i) l->push([&ran, pad] { ran += 1 + pad[0]; }, true);
    run(h.rt);
    EXPECT_EQ(ran, 100);
    own->close();
  }
  run(h.rt);  // the waker's final call lets go of it
  EXPECT_TRUE(seen.expired());
  h.rt.release_memory();
  h.rt.run(h.rt.now() + std::chrono::seconds(61), false);
}

// Records sit a word apart; a closure aligned more strictly is boxed, and keeps its place.
TEST(inbox, a_closure_aligned_past_a_word_is_boxed_and_runs_in_its_place_aligned) {
  home h;
  std::shared_ptr<lane> l = h.box().open_lane();
  struct alignas(32) wide {
    double v[4];
  };
  std::vector<int> got;
  l->push([&got] { got.push_back(1); }, false);
  l->push(
      [&got, w = wide{{2, 0, 0, 0}}] {
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&w) % 32, 0u);
        got.push_back(static_cast<int>(w.v[0]));
      },
      false);
  l->push([&got] { got.push_back(3); }, true);
  run(h.rt);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
}

// Asks for the inbox's context when it runs (a channel's delivery does); `pad` makes it
// large enough to be boxed.
template <std::size_t Pad>
struct wants_context {
  static constexpr bool takes_inbox_context = true;
  std::vector<void*>* seen;
  std::array<char, Pad> pad{};
  void operator()(void* context) { seen->push_back(context); }
};

TEST(inbox, a_closure_that_asks_for_the_inbox_context_gets_it_inline_or_boxed_and_others_do_not) {
  runtime rt;
  rt.set_poll_waker([] {});
  auto box = inbox::make(rt);
  int ctx = 0;
  box->set_context(&ctx);
  std::vector<void*> seen;
  int plain = 0;
  std::thread t([&] {
    EXPECT_TRUE(box->post(wants_context<1>{&seen}));
    EXPECT_TRUE(box->post([&plain] { ++plain; }));
    EXPECT_TRUE(box->post(wants_context<600>{&seen}));  // over 512 bytes: boxed
  });
  t.join();
  run(rt);
  EXPECT_EQ(seen, (std::vector<void*>{&ctx, &ctx}));
  EXPECT_EQ(plain, 1);
  box->close();
}

TEST(inbox, records_published_while_the_home_runs_a_lane_run_after_it_in_order) {
  home h;
  std::shared_ptr<lane> l = h.box().open_lane({2048});
  std::vector<int> got;
  std::array<char, 200> pad{};
  // While the home runs the first record, the producer (another thread, one at a time)
  // writes 20 records of 224 bytes: several new blocks, linked behind the one being read.
  l->push(
      [&got, &l, &pad] {
        got.push_back(1);
        std::thread([&] {
          for (int i = 0; i < 20; ++i)
            l->push([&got, i, pad] { got.push_back(10 + i + pad[0]); }, true);
        }).join();
      },
      true);
  run(h.rt);
  EXPECT_EQ(got, (std::vector<int>{1}));  // a take runs what was visible when it started
  EXPECT_GT(l->spill_high_water(), 0u);
  run(h.rt);
  ASSERT_EQ(got.size(), 21u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i) + 1], 10 + i);
}

TEST(inbox, closures_too_large_for_the_ring_are_boxed_and_keep_their_place) {
  home h;
  std::shared_ptr<lane> l = h.box().open_lane({1024});
  std::vector<int> got;
  std::array<char, 2000> huge{};
  huge[0] = 7;
  l->push([&got] { got.push_back(1); }, false);
  l->push([&got, huge] { got.push_back(huge[0]); }, false);
  l->push([&got] { got.push_back(3); }, true);
  run(h.rt);
  EXPECT_EQ(got, (std::vector<int>{1, 7, 3}));
}

TEST(inbox, a_throwing_closure_propagates_and_the_rest_runs_on_the_next_run_before_newer_posts) {
  home h;
  inbox& box = h.box();
  std::vector<int> got;
  box.post([&got] { got.push_back(1); });
  box.post([] { throw std::runtime_error("boom"); });
  box.post([&got] { got.push_back(3); });
  EXPECT_THROW(run(h.rt), std::runtime_error);
  EXPECT_EQ(got, (std::vector<int>{1}));
  box.post([&got] { got.push_back(4); });
  run(h.rt);
  EXPECT_EQ(got, (std::vector<int>{1, 3, 4}));
}

TEST(inbox, a_throw_in_a_later_block_keeps_the_rest_ahead_of_newer_records) {
  home h;
  inbox& box = h.box();
  std::shared_ptr<lane> l = box.open_lane({1024});
  std::vector<int> got;
  std::array<char, 300> pad{};
  for (int i = 0; i < 10; ++i) {
    l->push(
        [&got, i, pad] {
          if (i == 6) throw std::runtime_error("boom");
          got.push_back(i + pad[0]);
        },
        true);
  }
  ASSERT_GT(l->spill_high_water(), 0u);
  EXPECT_THROW(run(h.rt), std::runtime_error);
  l->push([&got] { got.push_back(100); }, true);
  run(h.rt);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 7, 8, 9, 100}));
}

TEST(inbox,
     after_a_throw_the_rest_of_the_throwing_lane_runs_before_newer_posts_of_lanes_taken_first) {
  home h;
  inbox& box = h.box();
  std::vector<int> got;
  box.post([&got] { got.push_back(1); });  // this thread's lane comes first
  std::thread([&] {
    box.post([] { throw std::runtime_error("boom"); });
    box.post([&got] { got.push_back(2); });
  }).join();
  EXPECT_THROW(run(h.rt), std::runtime_error);
  EXPECT_EQ(got, (std::vector<int>{1}));
  box.post([&got] { got.push_back(3); });  // newer than 2: runs after it
  run(h.rt);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
}

TEST(inbox, one_made_apart_closes_when_its_owner_says_destroying_what_is_queued) {
  counts c;
  home h;
  std::shared_ptr<inbox> own = inbox::make(h.rt);
  EXPECT_NE(own.get(), &h.box());
  int ran = 0;
  own->post([&ran, v = counted(c)] { ++ran; });
  run(h.rt);
  EXPECT_EQ(ran, 1);
  own->post([&ran, v = counted(c)] { ++ran; });
  own->close();
  EXPECT_EQ(c.alive(), 0);
  EXPECT_FALSE(own->post([&ran, v = counted(c)] { ++ran; }));
  run(h.rt);
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(c.balanced());
}

// A wake collected before the close may still call the waker's handler once: it must find
// the inbox alive (ASan) and closed, with nothing to run.
TEST(inbox, one_made_apart_may_be_closed_and_dropped_while_a_wake_of_it_is_pending) {
  home h;
  counts c;
  int ran = 0;
  for (int i = 0; i < 3; ++i) {
    std::shared_ptr<inbox> own = inbox::make(h.rt);
    own->post([&ran, v = counted(c)] { ++ran; });
    own->close();
    own.reset();
  }
  run(h.rt);
  run(h.rt);
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(c.balanced());
}

// The closure closes its inbox and drops the last owner but for the lane being taken:
// the inbox goes with that lane, and nothing of it is touched afterwards (ASan).
// The closure that closes sits at the end of a block, with more blocks behind it: the
// close destroys the rest, passing that block, which must stay until the closure returns.
TEST(inbox, a_closure_at_a_blocks_end_may_close_its_inbox_with_more_blocks_behind) {
  home h;
  counts c;
  std::shared_ptr<inbox> box = inbox::make(h.rt);
  std::shared_ptr<lane> l = box->open_lane({2048});  // blocks of 1 KiB: 4 records of 240
  std::array<char, 200> pad{};
  int ran = 0;
  for (int i = 0; i < 16; ++i) {
    l->push(
        [&ran, &box, i, pad, v = counted(c)] {
          ++ran;
          if (i == 3) box->close();
          (void)pad;
        },
        true);
  }
  run(h.rt);
  EXPECT_EQ(ran, 4);
  EXPECT_EQ(c.alive(), 0);
  l.reset();
  box.reset();
  EXPECT_TRUE(c.balanced());
}

TEST(inbox, a_closure_may_close_its_inbox_and_drop_its_last_owner) {
  home h;
  std::shared_ptr<inbox> own = inbox::make(h.rt);
  std::shared_ptr<lane> l = own->open_lane();
  bool ran = false;
  l->push(
      [&own, &ran] {
        ran = true;
        std::shared_ptr<inbox> b = std::move(own);
        b->close();
      },
      true);
  l.reset();
  run(h.rt);
  EXPECT_TRUE(ran);
  EXPECT_EQ(own, nullptr);
}

TEST(inbox, publish_mine_makes_posts_from_inside_a_run_visible_before_the_run_ends) {
  home a;
  home b;
  inbox& to_b = b.box();
  int polls_mid_run = -1;
  a.rt.defer([&](core&) {
    to_b.post([] {});
    to_b.publish_mine();
    polls_mid_run = b.polls.load();
  });
  run(a.rt);
  EXPECT_EQ(polls_mid_run, 1);
  EXPECT_EQ(b.polls.load(), 1);  // the end of the run publishes nothing more, wakes no more
}

TEST(inbox, the_home_runtime_going_destroys_what_is_queued_and_later_posts_fail_destroying_them) {
  counts c;
  std::shared_ptr<inbox> keep;
  {
    home h;
    keep = inbox::of(h.rt);
    keep->post([v = counted(c)] {});
    keep->post([v = counted(c)] {});
    EXPECT_EQ(c.alive(), 2);
  }
  EXPECT_EQ(c.alive(), 0);
  EXPECT_TRUE(keep->is_closed());
  EXPECT_FALSE(keep->post([v = counted(c)] {}));
  EXPECT_EQ(c.alive(), 0);
}

// A closure whose destructor posts to another inbox (as a remote handle's last drop does).
struct posts_when_destroyed {
  std::shared_ptr<inbox> to;
  std::atomic<int>* arrived;
  posts_when_destroyed(std::shared_ptr<inbox> t, std::atomic<int>* a)
      : to(std::move(t)), arrived(a) {}
  posts_when_destroyed(posts_when_destroyed&& o) noexcept
      : to(std::move(o.to)), arrived(o.arrived) {}
  ~posts_when_destroyed() {
    if (to) to->post([a = arrived] { a->fetch_add(1); });
  }
  void operator()() {}
};

// On the calling thread: writes 10 closures that post to `to` when destroyed into a lane,
// inside a run, to an inbox that closes before the run ends: they are never published and
// stay in this thread's lane into the closed inbox.
void strand_posting_closures(const std::shared_ptr<inbox>& to, std::atomic<int>& arrived) {
  auto a = std::make_unique<home>();
  home b;
  inbox& to_a = a->box();
  b.rt.defer([&](core&) {
    for (int i = 0; i < 10; ++i) to_a.post(posts_when_destroyed(to, &arrived));
    a.reset();  // closes `a`'s inbox
  });
  run(b.rt);
}

// The thread ends: its lanes go, and the closures' posts made then arrive.
TEST(inbox, closures_destroyed_as_their_thread_ends_may_post_and_their_posts_arrive) {
  home c;
  std::shared_ptr<inbox> to_c = inbox::of(c.rt);
  std::atomic<int> arrived{0};
  std::thread t([&] { strand_posting_closures(to_c, arrived); });
  t.join();
  run(c.rt);
  EXPECT_EQ(arrived.load(), 10);
}

// The thread opens a lane to a new inbox and lets go of its lanes into closed ones: the
// closures' destructors post while the thread's list of lanes is changing.
TEST(inbox, dropping_lanes_into_closed_inboxes_may_post_from_the_closures_they_held) {
  home c;
  std::shared_ptr<inbox> to_c = inbox::of(c.rt);
  std::atomic<int> arrived{0};
  std::thread t([&] {
    strand_posting_closures(to_c, arrived);
    auto d = std::make_unique<home>();
    d->box().post([] {});  // a first post to a new inbox: the lane into `a` goes
  });
  t.join();
  EXPECT_EQ(arrived.load(), 0);
  run(c.rt);
  EXPECT_EQ(arrived.load(), 10);
}

TEST(inbox, a_closure_may_post_to_its_own_inbox_which_delivers_in_a_later_run) {
  home h;
  inbox& box = h.box();
  int runs = 0;
  std::function<void()> again = [&] {
    if (++runs < 3) box.post(again);
  };
  box.post(again);
  run(h.rt);
  EXPECT_EQ(runs, 1);
  run(h.rt);
  EXPECT_EQ(runs, 2);
  run(h.rt);
  EXPECT_EQ(runs, 3);
}

// A pinned counter: release_on_home records which thread released it.
struct test_pin final : inbox::home_pin {
  std::atomic<int>* released;
  std::thread::id* on;
  test_pin(inbox& b, std::atomic<int>* r, std::thread::id* t) : home_pin(b), released(r), on(t) {}
  void release_on_home() noexcept override {
    released->fetch_add(1);
    *on = std::this_thread::get_id();
  }
};

TEST(inbox, a_pin_is_released_once_on_its_home_when_the_last_handle_goes_on_another_thread) {
  home h;
  std::atomic<int> released{0};
  std::thread::id on;
  auto* p = new test_pin(h.box(), &released, &on);
  for (int i = 0; i < 3; ++i) p->add_handle();
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) ts.emplace_back([p] { p->drop_handle(); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(released.load(), 0);
  run(h.rt);
  EXPECT_EQ(released.load(), 1);
  EXPECT_EQ(on, std::this_thread::get_id());
}

TEST(inbox, a_home_that_closes_releases_every_pin_still_held_once) {
  std::atomic<int> released{0};
  std::thread::id on;
  test_pin* p;
  {
    home h;
    p = new test_pin(h.box(), &released, &on);
  }
  EXPECT_EQ(released.load(), 1);
  p->drop_handle();  // the post fails: nothing more happens, the memory goes
  EXPECT_EQ(released.load(), 1);
}

// The last handle dropped on another thread while the home closes: drop_handle reads the
// home (TSan).
TEST(inbox, a_pins_last_handle_may_go_on_another_thread_while_its_home_closes) {
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> released{0};
    std::thread::id on;
    std::thread t;
    {
      home h;
      auto* p = new test_pin(h.box(), &released, &on);
      t = std::thread([p] { p->drop_handle(); });
    }
    t.join();
    EXPECT_EQ(released.load(), 1);
  }
}

using stakker::test::tracked;

// Many producer threads, bounded rings that spill, a replayable seed: per sender order,
// exactly once, and each closure destroyed once.
TEST(inbox, stress_many_senders_per_sender_order_exactly_once_with_spills) {
  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("STAKKER_INBOX_SEED"))
    seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::printf("inbox stress seed %u (STAKKER_INBOX_SEED to replay)\n", seed);
  SCOPED_TRACE(seed);
  constexpr int senders = 4;
  constexpr int per_sender = 20000;
  home h;
  inbox& box = h.box();
  std::atomic<long> live{0};
  std::vector<int> next(senders, 0);
  std::atomic<int> bad{0};
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int s = 0; s < senders; ++s) {
    ts.emplace_back([&, s] {
      std::mt19937 rng(seed + static_cast<unsigned>(s));
      std::shared_ptr<lane> l;
      if (s % 2 == 0) l = box.open_lane({1024});
      for (int i = 0; i < per_sender; ++i) {
        auto f = [&, s, i, v = tracked(live)] {
          if (next[static_cast<std::size_t>(s)] != i) bad.fetch_add(1);
          next[static_cast<std::size_t>(s)] = i + 1;
        };
        if (l) {
          l->push(std::move(f), rng() % 8 == 0);
        } else {
          box.post(std::move(f));
        }
        if (rng() % 512 == 0) std::this_thread::yield();
      }
      if (l) l->publish();
      done.fetch_add(1);
    });
  }
  while (done.load() < senders) run(h.rt);
  for (auto& t : ts) t.join();
  run(h.rt);
  EXPECT_EQ(bad.load(), 0);
  for (int s = 0; s < senders; ++s) EXPECT_EQ(next[static_cast<std::size_t>(s)], per_sender);
  EXPECT_EQ(live.load(), 0);
}

}  // namespace
