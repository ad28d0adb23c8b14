// SPDX-License-Identifier: MIT OR Apache-2.0
// piped_thread<O, I>: a worker thread with a message pipe each way (contract X3).
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "stakker/core.hpp"
#include "stakker/fwd.hpp"
#include "stakker/sync/waker.hpp"

namespace stakker {

namespace detail {

template <class O, class I>
struct piped_state {
  std::mutex m;
  std::condition_variable to_thread_ready;
  std::deque<O> to_thread;
  std::vector<I> to_runtime;
  bool cancelled = false;
  bool ended = false;  // the thread function returned or threw
  std::optional<std::string> error;
  stakker::waker wake;  // guarded by m
  std::thread thread;
  // The runtime thread's side, unlocked: the batch being delivered and the next value to
  // hand over (values a throwing receiver left wait here), and whether the handle was
  // destroyed or cancelled (delivery to the receiver stops at once).
  std::vector<I> batch;
  std::size_t next = 0;
  bool handle_gone = false;

  ~piped_state() {
    // Only if the runtime went first (it joins otherwise); the thread holds no reference
    // to anything else then.
    if (thread.joinable()) thread.detach();
  }
};

}  // namespace detail

// The worker thread's end of the pipes. Blocking is fine here: this is not the runtime
// thread.
template <class O, class I>
class piped_link {
 public:
  // Sends a value to the runtime thread (it reaches the `receiver` fwd there). False once
  // the thread was cancelled.
  bool send(I value) {
    std::lock_guard<std::mutex> lock(s_->m);
    if (s_->cancelled) return false;
    s_->to_runtime.push_back(std::move(value));
    if (s_->to_runtime.size() == 1) s_->wake.wake();
    return true;
  }

  // Waits for the next value from the runtime thread; empty once cancelled (the handle
  // was destroyed): the thread function should then return.
  std::optional<O> recv() {
    std::unique_lock<std::mutex> lock(s_->m);
    s_->to_thread_ready.wait(lock, [this] { return s_->cancelled || !s_->to_thread.empty(); });
    if (s_->cancelled) return std::nullopt;
    O v = std::move(s_->to_thread.front());
    s_->to_thread.pop_front();
    return v;
  }

  // Whether the thread was cancelled (for a thread that does not wait in recv).
  bool cancelled() const {
    std::lock_guard<std::mutex> lock(s_->m);
    return s_->cancelled;
  }

  // Library-internal (see piped_thread).
  explicit piped_link(detail::piped_state<O, I>* s) noexcept : s_(s) {}

 private:
  detail::piped_state<O, I>* s_;
};

// A worker thread running `body(piped_link<O, I>&)`, with values of type O sent to it
// (`send`) and values of type I sent back, delivered to `receiver` on the runtime thread at
// the start of a later run. When the thread function ends, `on_end` hears it on the runtime
// thread, once, after every value it sent: empty for a normal return (including after
// cancellation), or the message of the exception that escaped. Destroying the handle
// cancels the thread (its `recv` returns empty, its `send` fails) without waiting for it:
// values it sent that were not yet handed to `receiver` are destroyed and none is handed
// over afterwards, but `on_end` is still called. The thread is joined on the runtime thread
// once it has reported its end (it is then exiting). Needs a poll waker (set by the loop).
// Move-only; the handle belongs to the runtime thread.
//
// What `receiver` and `on_end` may do while they run (on the runtime thread, inside `run`):
// - make and destroy other wakers, channels and piped threads;
// - destroy or cancel this handle (stop the actor owning it): see above;
// - throw: the exception propagates out of `run`. The value given counts as delivered
//   (and `on_end`, once called, is never called again); the rest of the batch and the end
//   report are kept, the runtime is woken, and the next run delivers them, so the thread
//   is still joined.
template <class O, class I>
class piped_thread {
 public:
  template <class Body>
  piped_thread(core& c, fwd<I> receiver, fwd<std::optional<std::string>> on_end, Body body)
      : s_(std::make_shared<detail::piped_state<O, I>>()) {
    auto s = s_;
    // Runs on the runtime thread: deliver what a throwing receiver left, then the values
    // waiting, then the end (once), joining the thread.
    s_->wake = c.waker([s, receiver = std::move(receiver), on_end = std::move(on_end),
                        reported = false](core&, bool deleted) mutable {
      if (deleted || reported) return;
      bool ended = false;
      std::optional<std::string> error;
      for (bool took = false;; took = true) {
        while (!s->handle_gone && s->next < s->batch.size()) {
          try {
            receiver(std::move(s->batch[s->next++]));
          } catch (...) {
            // The rest (and the end, which a later look finds again) waits; wake again.
            std::lock_guard<std::mutex> lock(s->m);
            s->wake.wake();
            throw;
          }
        }
        s->batch.clear();
        s->next = 0;
        if (took) break;
        // The end is read with the values: once it is seen, every value sent is here.
        std::lock_guard<std::mutex> lock(s->m);
        s->batch.swap(s->to_runtime);
        ended = s->ended;
        if (ended) error = s->error;
      }
      if (!ended) return;
      reported = true;
      s->thread.join();  // it reported its end as its last act: this waits for its exit only
      {
        std::lock_guard<std::mutex> lock(s->m);
        s->wake.reset();
      }
      on_end(std::move(error));
    });
    s_->thread = std::thread([s, body = std::move(body)]() mutable {
      std::optional<std::string> error;
      try {
        piped_link<O, I> link(s.get());
        body(link);
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown exception";
      }
      std::lock_guard<std::mutex> lock(s->m);
      s->ended = true;
      s->error = std::move(error);
      s->wake.wake();
    });
  }

  piped_thread(piped_thread&&) noexcept = default;
  piped_thread& operator=(piped_thread&& o) noexcept {
    if (this != &o) {
      cancel();
      s_ = std::move(o.s_);
    }
    return *this;
  }
  ~piped_thread() { cancel(); }

  // Sends a value to the thread (its `recv` returns it). Ignored once cancelled.
  void send(O value) {
    {
      std::lock_guard<std::mutex> lock(s_->m);
      if (s_->cancelled) return;
      s_->to_thread.push_back(std::move(value));
    }
    s_->to_thread_ready.notify_one();
  }

  // Cancels the thread now (as destroying the handle does), also from inside `receiver`:
  // values not yet handed over are destroyed here.
  void cancel() noexcept {
    if (!s_) return;
    std::vector<I> discarded;
    {
      std::lock_guard<std::mutex> lock(s_->m);
      s_->cancelled = true;
      discarded.swap(s_->to_runtime);
    }
    s_->to_thread_ready.notify_all();
    s_->handle_gone = true;
    std::vector<I> rest = std::move(s_->batch);
    s_->batch.clear();
    s_->next = 0;
    s_.reset();
  }

 private:
  std::shared_ptr<detail::piped_state<O, I>> s_;
};

}  // namespace stakker
