// SPDX-License-Identifier: MIT OR Apache-2.0
// channel<T>: many producer threads feeding a fwd<T> on the runtime thread (contract X2).
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

#include "stakker/core.hpp"
#include "stakker/detail/inbox.hpp"
#include "stakker/fwd.hpp"

namespace stakker {

// What a bounded channel does when it is full.
enum class channel_overflow {
  refuse,  // send returns false (try_send says `full`); the value is dropped
  block,   // the producer thread waits for room (never the runtime thread: see send)
};

enum class send_result { sent, full, closed };

namespace detail {

// Shared by the producers and the guard. Values cross through an inbox of the channel's own
// (stakker::detail::inbox: a lane per producer thread, one wake per batch), which the guard
// closes: that is what makes sends fail and destroys the values still waiting.
template <class T>
struct channel_state {
  std::shared_ptr<stakker::detail::inbox> box;  // set once, before any producer exists
  std::size_t capacity = 0;                     // 0: unbounded
  channel_overflow overflow = channel_overflow::refuse;
  // Bounded only. `accepted`: values accepted so far, each send's ticket its place in that
  // count. `taken`: how many the runtime has taken, as the old batch-at-a-time channel did:
  // when it starts handing over a value it had not taken, it takes every value accepted so
  // far (the rest of that batch no longer counts as waiting, even if the receiver throws
  // before reaching it). Waiting: accepted - taken, at most `capacity`.
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> taken{0};
  // The `block` policy only: producers waiting for room, and what they wait on.
  std::atomic<std::size_t> blocked{0};
  std::mutex m;
  std::condition_variable room;
  // The runtime thread's side: the receiver, whether a value is being handed to it, and,
  // when the guard closes meanwhile, the guard's share of this state (the delivery lets
  // go of the receiver and of this once the receiver has returned).
  fwd<T> receiver;
  bool delivering = false;
  std::shared_ptr<channel_state> keep;

  // Any thread: a place for one more value (its ticket), unless `capacity` wait already.
  bool try_reserve(std::uint64_t& ticket) noexcept {
    std::uint64_t n = accepted.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t t = taken.load(std::memory_order_seq_cst);
      if (n - std::min(n, t) >= capacity) return false;  // t > n: n is stale, the CAS fails
      if (accepted.compare_exchange_weak(n, n + 1, std::memory_order_seq_cst,
                                         std::memory_order_relaxed)) {
        ticket = n;
        return true;
      }
    }
  }
  // Runtime thread, as the value of `ticket` is handed over: takes the values accepted so
  // far if that one was not taken yet, and lets waiting producers look again.
  void take(std::uint64_t ticket) noexcept {
    if (ticket < taken.load(std::memory_order_relaxed)) return;  // taken with an earlier one
    taken.store(accepted.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
    // Pairs with a waiting producer's increment of `blocked` before it checks for room.
    if (overflow == channel_overflow::block && blocked.load(std::memory_order_seq_cst) != 0)
      wake_blocked();
  }
  void wake_blocked() noexcept {
    { std::lock_guard<std::mutex> lock(m); }  // a producer between its check and its wait
    room.notify_all();
  }
  // Runtime thread: hands `value` to the receiver (a closed guard lets go of it after).
  void deliver(T&& value);
};

// One value on its way, run from the channel's inbox on the runtime thread with the
// inbox's context, its channel: one value's record is a word of header and the value (16
// bytes for an 8-byte value: a producer that runs ahead fills memory the runtime then reads
// cold). The channel lives while the inbox is open (the guard holds it and closes the inbox
// before letting go); once the inbox is closed a delivery is only destroyed, which touches
// nothing but the value. A bounded channel's carries its ticket.
template <class T, bool Bounded>
struct channel_delivery;

template <class T>
struct channel_delivery<T, true> {
  static constexpr bool takes_inbox_context = true;
  std::uint64_t ticket;
  T value;
  void operator()(void* channel) {
    auto* s = static_cast<channel_state<T>*>(channel);
    s->take(ticket);
    s->deliver(std::move(value));
  }
};

template <class T>
struct channel_delivery<T, false> {
  static constexpr bool takes_inbox_context = true;
  T value;
  void operator()(void* channel) {
    static_cast<channel_state<T>*>(channel)->deliver(std::move(value));
  }
};

template <class T>
void channel_state<T>::deliver(T&& value) {
  struct done {
    channel_state& st;
    ~done() {
      st.delivering = false;
      if (st.keep) {  // the guard closed while the receiver ran: let go of it now
        st.receiver = fwd<T>();
        std::shared_ptr<channel_state> last = std::move(st.keep);
      }
    }
  } end{*this};
  delivering = true;
  // In place when the runtime allows it: a fwd_to receiver's call then runs here, as it
  // would have run from the queue (see core_access::deliver_in_place).
  fwd_access<T>::deliver(receiver, std::move(value));
}

}  // namespace detail

// The producer side: copyable, safe to use from any thread. Values arrive at the receiving
// `fwd<T>` on the runtime thread in each producer's order, delivered through the channel's
// inbox at the start of a later run; one wake per batch (a value into an empty channel
// wakes the runtime, the ones sent before it has taken that one do not). A value sent from
// inside a run of a runtime on the producer's thread leaves at the end of that run, with
// the rest of the run's cross-thread posts. Once the receiver's guard is destroyed, or the
// runtime is (whichever goes first), the channel is closed: sending fails and values still
// waiting are discarded.
//
// A `fwd_to` receiver gets a call on its actor per value, run in the order queued calls
// would run. When nothing is queued ahead of them (the channel's inbox is the last waker
// handled at the start of the run, the main queue is empty, nothing observes) the calls run
// in place as the values are taken, saving the queue's write and read: they would have
// been the next calls run, one after another, and what they queue comes after them all.
//
// Cost of a send: the producer thread's lane (a write into its block and one release store;
// no lock; a new block now and then while the receiver is behind), plus, bounded, one
// compare-exchange on the count of accepted values (and for the runtime, a store per batch
// taken).
//
// What the receiver may do while it runs (on the runtime thread, inside `run`):
// - make and close other channels, wakers and piped threads;
// - close its own channel, or destroy what owns the guard (its actor): the values not yet
//   handed over are destroyed at once and none reaches the receiver again;
// - throw: the exception propagates out of `run`. The value it was given counts as
//   delivered; the rest is kept, the runtime is woken, and the next run hands them over,
//   before any value sent later. Nothing queued is lost.
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
    std::uint64_t ticket = 0;
    if (s.capacity != 0 && !s.try_reserve(ticket)) {
      if (s.overflow == channel_overflow::refuse)
        return s.box->is_closed() ? send_result::closed : send_result::full;
      if (!wait_for_room(s, ticket)) return send_result::closed;
    }
    // Closed: the value is destroyed here (its place is not given back: nothing is sent
    // any more).
    const bool posted =
        s.capacity != 0 ? s.box->post(detail::channel_delivery<T, true>{ticket, std::move(value)})
                        : s.box->post(detail::channel_delivery<T, false>{std::move(value)});
    return posted ? send_result::sent : send_result::closed;
  }

  bool is_closed() const { return state_->box->is_closed(); }

  // Library-internal (see make_channel).
  explicit channel(std::shared_ptr<detail::channel_state<T>> s) : state_(std::move(s)) {}

 private:
  // The `block` policy: waits until a place is reserved (true) or the channel closes.
  static bool wait_for_room(detail::channel_state<T>& s, std::uint64_t& ticket) {
    // What this thread sent inside its current run counts as waiting: make it visible, or
    // the runtime could never take it and make room.
    s.box->publish_mine();
    std::unique_lock<std::mutex> lock(s.m);
    s.blocked.fetch_add(1, std::memory_order_seq_cst);
    bool reserved = false;
    s.room.wait(lock, [&] { return s.box->is_closed() || (reserved = s.try_reserve(ticket)); });
    s.blocked.fetch_sub(1, std::memory_order_relaxed);
    return reserved;
  }

  std::shared_ptr<detail::channel_state<T>> state_;
};

// The receiver side, kept by the receiving actor: destroying it (on the runtime thread)
// closes the channel and discards values not yet delivered. If the runtime goes first, the
// channel closes with it, and the guard then only lets go of the receiver. Movable.
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
  // the values not yet handed over are destroyed here and delivery stops.
  void close() noexcept {
    if (!state_) return;
    detail::channel_state<T>& s = *state_;
    s.box->close();  // sends fail from here; what waits is destroyed unrun
    if (s.overflow == channel_overflow::block) s.wake_blocked();
    if (s.delivering) {
      s.keep = std::move(state_);  // the receiver is running: its delivery lets go
    } else {
      s.receiver = fwd<T>();
      state_.reset();
    }
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
  s->receiver = std::move(receiver);
  s->box = stakker::detail::inbox::make(c);
  s->box->set_context(s.get());
  return {channel<T>(s), channel_guard<T>(s)};
}

}  // namespace stakker
