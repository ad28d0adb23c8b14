// SPDX-License-Identifier: MIT OR Apache-2.0
// Drives a runtime in virtual time, deterministically, for tests.
#pragma once

#include "stakker/runtime.hpp"
#include "stakker/time.hpp"

namespace stakker::testing {

// A loop whose clock moves only when told. Starts at an arbitrary fixed instant, so runs
// are reproducible. Owns its runtime.
class virtual_loop {
 public:
  virtual_loop() : now_(instant(std::chrono::hours(1))), rt_(now_) {}

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

 private:
  instant now_;
  runtime rt_;
};

}  // namespace stakker::testing
