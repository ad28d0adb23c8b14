// SPDX-License-Identifier: MIT OR Apache-2.0
// channel<T>: many producer threads feeding a fwd<T> on the runtime thread (contract X2).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "stakker/core.hpp"
#include "stakker/fwd.hpp"
#include "stakker/sync/waker.hpp"

namespace stakker {

// What a bounded channel does when it is full.
enum class channel_overflow {
  refuse,  // send returns false (try_send says `full`); the value is dropped
  block,   // the producer thread waits for room (never the runtime thread: see send)
};

enum class send_result { sent, full, closed };

namespace detail {

template <class T>
struct channel_state {
  std::mutex m;
  std::condition_variable room;
  std::vector<T> items;  // waiting to be handed to the fwd, in arrival order
  bool closed = false;
  std::size_t capacity = 0;  // 0: unbounded
  channel_overflow overflow = channel_overflow::refuse;
  std::size_t blocked = 0;      // producers waiting for room
  stakker::waker wake;          // guarded by m (close resets it)
  stakker::waker_ref wake_ref;  // set once before any producer exists; used unlocked
  // The runtime thread's side (the waker's handler and the guard), unlocked: the batch
  // being delivered and the next value to hand over (values a throwing receiver left wait
  // here), and whether the guard closed (delivery stops at once).
  std::vector<T> batch;
  std::size_t next = 0;
  bool guard_closed = false;
};

}  // namespace detail

// The producer side: copyable, safe to use from any thread. Values arrive at the receiving
// `fwd<T>` on the runtime thread in the order they were accepted (so, per producer, in the
// order sent), delivered by a waker at the start of a later run. Only the first value into
// an empty channel wakes the runtime. Once the receiver's guard is destroyed the channel is
// closed: sending fails and values still waiting are discarded.
//
// What the receiver may do while it runs (on the runtime thread, inside `run`):
// - make and close other channels, wakers and piped threads;
// - close its own channel, or destroy what owns the guard (its actor): the values of the
//   batch not yet handed over are destroyed at once and none reaches the receiver again;
// - throw: the exception propagates out of `run`. The value it was given counts as
//   delivered; the rest of the batch is kept, the runtime is woken, and the next run hands
//   them over, before any value sent later. Nothing queued is lost.
template <class T>
class channel {
 public:
  channel() = default;

  // Hands `value` over. False if the channel is closed, or full with the `refuse` policy.
  // With the `block` policy a full channel makes the calling thread wait for room; never
  // call that from the runtime thread that drains it.
  bool send(T value) const { return try_send(std::move(value)) == send_result::sent; }

  send_result try_send(T value) const {
    detail::channel_state<T>& s = *state_;
    std::unique_lock<std::mutex> lock(s.m);
    if (s.capacity != 0 && s.items.size() >= s.capacity) {
      if (s.overflow == channel_overflow::refuse)
        return s.closed ? send_result::closed : send_result::full;
      ++s.blocked;
      s.room.wait(lock, [&s] { return s.closed || s.items.size() < s.capacity; });
      --s.blocked;
    }
    if (s.closed) return send_result::closed;
    s.items.push_back(std::move(value));
    const bool first = s.items.size() == 1;
    lock.unlock();
    // Woken after unlocking, or the runtime thread would wake only to wait for this lock.
    if (first) s.wake_ref.wake();
    return send_result::sent;
  }

  bool is_closed() const {
    std::lock_guard<std::mutex> lock(state_->m);
    return state_->closed;
  }

  // Library-internal (see make_channel).
  explicit channel(std::shared_ptr<detail::channel_state<T>> s) : state_(std::move(s)) {}

 private:
  std::shared_ptr<detail::channel_state<T>> state_;
};

// The receiver side, kept by the receiving actor: destroying it (on the runtime thread)
// closes the channel and discards values not yet delivered. Movable.
template <class T>
class channel_guard {
 public:
  channel_guard() = default;
  channel_guard(channel_guard&&) noexcept = default;
  channel_guard& operator=(channel_guard&& o) noexcept {
    if (this != &o) {
      close();
      state_ = std::move(o.state_);
    }
    return *this;
  }
  ~channel_guard() { close(); }

  // Closes now (as destruction does). Runtime thread only. Also from inside the receiver:
  // the rest of the batch being delivered is destroyed here and delivery stops.
  void close() noexcept {
    if (!state_) return;
    std::vector<T> discarded;
    {
      std::lock_guard<std::mutex> lock(state_->m);
      state_->closed = true;
      discarded.swap(state_->items);
      state_->wake.reset();  // the waker's final call follows on the runtime thread
    }
    state_->room.notify_all();
    state_->guard_closed = true;
    std::vector<T> rest = std::move(state_->batch);
    state_->batch.clear();
    state_->next = 0;
    state_.reset();
  }

  // Library-internal (see make_channel).
  explicit channel_guard(std::shared_ptr<detail::channel_state<T>> s) : state_(std::move(s)) {}

 private:
  std::shared_ptr<detail::channel_state<T>> state_;
};

// Makes a channel delivering into `receiver` (a fwd on this runtime). `capacity` 0 means
// unbounded; otherwise at most `capacity` values wait, and `overflow` says what a producer
// meets when the channel is full. The runtime needs a poll waker (set by the loop).
template <class T>
std::pair<channel<T>, channel_guard<T>> make_channel(
    core& c, fwd<T> receiver, std::size_t capacity = 0,
    channel_overflow overflow = channel_overflow::refuse) {
  auto s = std::make_shared<detail::channel_state<T>>();
  s->capacity = capacity;
  s->overflow = overflow;
  // Runs on the runtime thread: hands over what a throwing receiver left, then takes
  // everything waiting, makes room, and delivers that. The drained vector goes back to the
  // producers with its capacity, so they do not regrow one from nothing under the lock.
  s->wake = c.waker([s, receiver = std::move(receiver)](core&, bool deleted) mutable {
    if (deleted) {
      receiver = fwd<T>();
      return;
    }
    for (bool took = false;; took = true) {
      while (!s->guard_closed && s->next < s->batch.size()) {
        try {
          receiver(std::move(s->batch[s->next++]));
        } catch (...) {
          // The rest stays in the batch; wake again so that the next run delivers it, and
          // takes what producers sent meanwhile (their one wake-up was this very call).
          if (!s->guard_closed) s->wake_ref.wake();
          throw;
        }
      }
      if (s->guard_closed) return;  // close() destroyed the rest
      s->batch.clear();
      s->next = 0;
      if (took) return;
      bool notify;
      {
        std::lock_guard<std::mutex> lock(s->m);
        s->batch.swap(s->items);
        notify = s->blocked != 0;
      }
      if (notify) s->room.notify_all();
      if (s->batch.empty()) return;
    }
  });
  s->wake_ref = s->wake.ref();
  return {channel<T>(s), channel_guard<T>(s)};
}

}  // namespace stakker
