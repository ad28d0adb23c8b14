// SPDX-License-Identifier: MIT OR Apache-2.0
// Drives a runtime in virtual time, deterministically, for tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "stakker/runtime.hpp"
#include "stakker/time.hpp"

namespace stakker::testing {

// A loop whose clock moves only when told. Starts at an arbitrary fixed instant, so runs
// are reproducible. Owns its runtime.
//
// It installs a poll waker, as a real loop does, so wakers, channels, piped threads and
// foreign awaitables completed on other threads work in tests: their wake-ups are
// delivered by the next run, and wait_for_wake() blocks until one comes.
class virtual_loop {
 public:
  virtual_loop() : now_(instant(std::chrono::hours(1))), rt_(now_) {
    rt_.set_poll_waker([w = wake_]() noexcept {
      {
        std::lock_guard<std::mutex> lock(w->m);
        w->woken = true;
      }
      w->cv.notify_all();
    });
  }
  ~virtual_loop() { rt_.clear_poll_waker(); }
  virtual_loop(const virtual_loop&) = delete;
  virtual_loop& operator=(const virtual_loop&) = delete;

  runtime& rt() noexcept { return rt_; }
  stakker::core& core() noexcept { return rt_; }
  instant now() const noexcept { return now_; }

  // Runs the queues at the current virtual time (no idle item).
  void run() { rt_.run(now_, false); }
  // Runs one idle item, then the queues; returns whether idle items remain.
  bool run_idle() { return rt_.run(now_, true); }
  // Moves the clock forward by `d`, then runs.
  void advance(duration d) {
    now_ += d;
    run();
  }
  // Runs, then keeps running idle items until there are none left or `max_items` ran.
  void run_until_idle(int max_items = 1'000'000) {
    run();
    while (rt_.has_idle() && max_items-- > 0) run_idle();
  }
  // Blocks this thread until another thread wakes the runtime (a waker, a channel send, a
  // foreign awaitable's completion) or `timeout` of real time passes, then runs (the
  // virtual clock does not move). Returns whether a wake-up came. For tests with threads.
  bool wait_for_wake(std::chrono::milliseconds timeout) {
    bool woken;
    {
      std::unique_lock<std::mutex> lock(wake_->m);
      woken = wake_->cv.wait_for(lock, timeout, [&] { return wake_->woken; });
      wake_->woken = false;
    }
    run();
    return woken;
  }

 private:
  // Shared with the poll waker, which the runtime may call from any thread.
  struct wake_state {
    std::mutex m;
    std::condition_variable cv;
    bool woken = false;
  };
  std::shared_ptr<wake_state> wake_ = std::make_shared<wake_state>();
  instant now_;
  runtime rt_;
};

}  // namespace stakker::testing
