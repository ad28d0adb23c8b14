// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/asio/io_loop.hpp"

#include <mutex>
#include <utility>

namespace stakker::asio {

// What handlers posted by the loop and its poll waker (any thread) hold.
struct io_loop::shared {
  shared(io_loop* l, net::io_context* c) noexcept : loop(l), ioc(c) {}
  io_loop* loop;         // null once the loop is gone; read on the runtime's thread
  std::mutex m;          // guards ioc, for the poll waker
  net::io_context* ioc;  // null once the loop is gone
};

core& io_loop::install_poll_waker(runtime& rt, const std::shared_ptr<shared>& s) {
  // Any thread: post a run (it polls the wakers) to the io_context, if it still exists.
  rt.set_poll_waker([s] {
    std::lock_guard<std::mutex> lock(s->m);
    if (s->ioc != nullptr) {
      net::post(*s->ioc, [s] {
        if (s->loop != nullptr) s->loop->run_now(false);
      });
    }
  });
  return rt;
}

io_loop::io_loop(net::io_context& ioc, runtime& rt)
    : ioc_(ioc),
      rt_(rt),
      shared_(std::make_shared<shared>(this, &ioc)),
      binding_(install_poll_waker(rt, shared_), ioc) {
  binding_.set_driver(
      this, [](void* self) { static_cast<io_loop*>(self)->request_run(); },
      [](void* self) { static_cast<io_loop*>(self)->run_now(false); });
  rt_.anymap_set<io_loop*>(this);
  request_run();  // for work queued before the loop existed
}

io_loop::~io_loop() {
  if (gone_ != nullptr) *gone_ = true;  // destroyed by a callback of run_now
  rt_.anymap_unset<io_loop*>();
  shared_->loop = nullptr;
  std::lock_guard<std::mutex> lock(shared_->m);
  shared_->ioc = nullptr;
}

void io_loop::request_run() {
  if (run_posted_) return;
  run_posted_ = true;
  net::post(ioc_, [s = shared_] {
    if (s->loop == nullptr) return;
    s->loop->run_posted_ = false;
    s->loop->run_now(false);
  });
}

void io_loop::run_now(bool idle) {
  if (idle) idle_posted_ = false;
  // A callback of this run may destroy the loop (not the runtime): its destructor then sets
  // `gone`, and nothing of the loop is touched afterwards. (A flag on the stack rather than a
  // copy of `shared_`: this runs once per completion, and the copy is two atomic operations.)
  // On the way out the flag of an enclosing run_now, if any, is put back or told.
  struct watch {
    io_loop* loop;
    bool* outer;
    bool gone = false;
    ~watch() {
      if (!gone)
        loop->gone_ = outer;
      else if (outer != nullptr)
        *outer = true;
    }
  } w{this, gone_};
  gone_ = &w.gone;
  try {
    rt_.run(clock::now(), idle);
  } catch (...) {
    // An escaping closure leaves the io_context's run. What it left queued on the runtime
    // gets a run posted, so the next run of the io_context carries on with it.
    if (!w.gone) {
      after_run();
      request_run();
    }
    throw;
  }
  if (!w.gone) after_run();
}

void io_loop::after_run() {
  if (in_run_ && rt_.is_shutdown()) ioc_.stop();
  if (rt_.has_idle() && !idle_posted_) {
    idle_posted_ = true;
    net::post(ioc_, [s = shared_] {
      if (s->loop != nullptr) s->loop->run_now(true);
    });
  }
  if (!armed_ && rt_.timer_count() == 0) return;  // the common case: nothing to arm
  std::optional<instant> next = rt_.next_expiry();
  if (next == armed_) return;
  armed_ = next;
  if (!next) {
    timer_->cancel();
    return;
  }
  // Made on the first runtime timer: an Asio timer makes the io_context poll its reactor on
  // every pass, which a program without runtime timers need not pay for.
  if (!timer_) timer_.emplace(ioc_);
  timer_->expires_at(*next);  // cancels the previous wait (its handler sees operation_aborted)
  timer_->async_wait([s = shared_](const error_code& ec) {
    if (ec || s->loop == nullptr) return;
    s->loop->armed_.reset();
    s->loop->run_now(false);
  });
}

stop_cause io_loop::run() {
  auto work = net::make_work_guard(ioc_);
  in_run_ = true;
  struct leave {
    io_loop* l;
    ~leave() { l->in_run_ = false; }
  } leaving{this};
  if (rt_.is_shutdown()) return *rt_.shutdown_cause();
  request_run();
  ioc_.run();
  ioc_.restart();
  if (rt_.is_shutdown()) return *rt_.shutdown_cause();
  return stop_cause::stopped();
}

}  // namespace stakker::asio
