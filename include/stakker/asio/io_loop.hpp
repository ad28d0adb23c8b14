// SPDX-License-Identifier: MIT OR Apache-2.0
// io_loop: an Asio io_context drives a runtime (the io_context is the outer loop).
#pragma once

#include <memory>
#include <optional>

#include "stakker/asio/executor.hpp"
#include "stakker/asio/export.hpp"
#include "stakker/runtime.hpp"

namespace stakker::asio {

// Drives `rt` from `ioc`, on the thread that runs `ioc` (which must be the runtime's
// thread, and the only one running `ioc`). Work queued on the runtime through its executor
// (Asio completions, tokens, net::post) or from another thread (wakers, channels) gets a run
// posted to `ioc`; runtime timers map to one steady_timer set to the next expiry; idle items
// run one per posted handler while idle items remain, behind the handlers already queued
// (so ready I/O goes first). Code outside the runtime that queues on it directly (a plain
// Asio handler calling `rt.defer`) calls `request_run()` afterwards.
//
// Owns the runtime's io_binding, so `get_executor()` and the tokens work. Registers itself
// in the runtime's anymap as `io_loop*`. Destroy it before `ioc` and `rt`; handlers it
// posted that are still queued then do nothing.
class STAKKER_ASIO_EXPORT io_loop {
 public:
  io_loop(net::io_context& ioc, runtime& rt);
  ~io_loop();
  io_loop(const io_loop&) = delete;
  io_loop& operator=(const io_loop&) = delete;

  runtime_executor get_executor() noexcept { return binding_.get_executor(); }
  io_binding& binding() noexcept { return binding_; }
  runtime& rt() noexcept { return rt_; }
  net::io_context& context() noexcept { return ioc_; }

  // Runs `ioc` on this thread until the runtime is asked to shut down (then stops `ioc` and
  // restarts it, so it can be run again). Returns the shutdown cause, or stop_cause::stopped()
  // if someone else stopped `ioc` first.
  stop_cause run();
  // Posts a run of the runtime to `ioc` unless one is already posted. Runtime thread.
  void request_run();

 private:
  struct shared;
  static core& install_poll_waker(runtime& rt, const std::shared_ptr<shared>& s);
  // Runs the runtime now (`idle`: with one idle item first), then re-arms what it needs.
  void run_now(bool idle);
  void after_run();

  net::io_context& ioc_;
  runtime& rt_;
  std::shared_ptr<shared> shared_;  // with the poll waker and every handler posted
  io_binding binding_;
  std::optional<net::steady_timer> timer_;  // made with the first runtime timer
  std::optional<instant> armed_;            // what timer_ waits for
  bool run_posted_ = false;
  bool idle_posted_ = false;
  bool in_run_ = false;
  bool* gone_ = nullptr;  // run_now's "destroyed meanwhile" flag, while one is under way
};

}  // namespace stakker::asio
