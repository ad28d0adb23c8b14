#include "stakker/sync/piped_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "stakker/runtime.hpp"

namespace {

using stakker::core;
using stakker::fwd_do;
using stakker::piped_link;
using stakker::piped_thread;
using stakker::runtime;
using end_t = std::optional<std::string>;

void run(runtime& rt) { rt.run(rt.now(), false); }

// Runs `rt` until `done()` (the runtime thread never blocks; this loop polls).
template <class F>
void run_until(runtime& rt, F done) {
  for (int i = 0; i < 2'000'000 && !done(); ++i) {
    run(rt);
    std::this_thread::yield();
  }
}

TEST(piped_thread, messages_go_both_ways_and_a_normal_end_reports_empty) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<int> back;
  std::optional<end_t> ended;
  piped_thread<int, int> t(rt, fwd_do<int>([&back](int v) { back.push_back(v); }),
                           fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }),
                           [](piped_link<int, int>& link) {
                             while (auto v = link.recv()) {
                               if (*v < 0) return;
                               link.send(*v * 10);
                             }
                           });
  for (int i = 1; i <= 100; ++i) t.send(i);
  t.send(-1);
  run_until(rt, [&] { return ended.has_value(); });
  ASSERT_TRUE(ended.has_value());
  EXPECT_FALSE(ended->has_value());
  ASSERT_EQ(back.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(back[static_cast<std::size_t>(i)], (i + 1) * 10);
}

TEST(piped_thread, an_exception_in_the_thread_reaches_the_end_callback_with_its_message) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::optional<end_t> ended;
  piped_thread<int, int> t(rt, fwd_do<int>([](int) {}),
                           fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }),
                           [](piped_link<int, int>&) { throw std::runtime_error("worker broke"); });
  run_until(rt, [&] { return ended.has_value(); });
  ASSERT_TRUE(ended.has_value());
  ASSERT_TRUE(ended->has_value());
  EXPECT_EQ(**ended, "worker broke");
}

TEST(piped_thread, destroying_the_handle_cancels_the_thread_and_the_end_is_still_reported) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::optional<end_t> ended;
  std::atomic<bool> saw_cancel{false};
  {
    piped_thread<int, int> t(rt, fwd_do<int>([](int) {}),
                             fwd_do<end_t>([&ended](end_t e) { ended = std::move(e); }),
                             [&saw_cancel](piped_link<int, int>& link) {
                               while (link.recv()) {
                               }
                               saw_cancel = link.cancelled();
                               EXPECT_FALSE(link.send(1));
                             });
  }
  run_until(rt, [&] { return ended.has_value(); });
  ASSERT_TRUE(ended.has_value());
  EXPECT_FALSE(ended->has_value());
  EXPECT_TRUE(saw_cancel.load());
}

TEST(piped_thread, a_thread_outliving_its_runtime_ends_quietly) {
  std::atomic<bool> finished{false};
  {
    runtime rt;
    rt.set_poll_waker([] {});
    piped_thread<int, int> t(rt, fwd_do<int>([](int) {}), fwd_do<end_t>([](end_t) {}),
                             [&finished](piped_link<int, int>& link) {
                               while (link.recv()) {
                               }
                               link.send(1);
                               finished = true;
                             });
    t.send(1);
  }  // the handle cancels, then the runtime goes while the thread may still run
  for (int i = 0; i < 10'000'000 && !finished.load(); ++i) std::this_thread::yield();
  EXPECT_TRUE(finished.load());
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // let it exit (not asserted)
}

}  // namespace
