// SPDX-License-Identifier: MIT OR Apache-2.0
// waker: wake a runtime's handler from any thread (contract X1).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "stakker/export.hpp"

namespace stakker {

class core;
class runtime;

namespace detail {

// Shared by a runtime and its wakers, which may live on other threads. Set bits form a
// three-level bitmap (top word → 64 groups → 64 words → 64 bits), so collecting costs
// O(set bits) however many wakers exist; a wake costs one to three atomic read-modify-writes
// and at most one call of the loop's poll waker (when the top word goes from empty to not).
struct STAKKER_EXPORT waker_hub {
  static constexpr std::uint32_t group_bits = 64 * 64;
  static constexpr std::uint32_t max_wakers = 64 * group_bits;

  struct group {
    std::atomic<std::uint64_t> summary{0};
    std::array<std::atomic<std::uint64_t>, 64> words{};
  };

  std::atomic<std::uint64_t> top{0};
  std::array<std::atomic<group*>, 64> groups{};
  std::atomic<bool> alive{true};
  std::atomic<bool> drops_pending{false};
  std::mutex drop_mutex;
  std::vector<std::uint32_t> dropped;  // guarded by drop_mutex
  // The loop's poll waker, replaced or cleared by the runtime thread when loops come and
  // go. Called with poll_mutex held: once replaced, the old one is neither running nor
  // called again. Costs one uncontended lock per wake of the loop (not per wake).
  std::mutex poll_mutex;
  std::function<void()> poll_waker;  // guarded by poll_mutex (written on the runtime thread)

  ~waker_hub();
  // Any thread. Returns whether the loop must be woken (the caller then calls wake_loop).
  bool set(std::uint32_t id) noexcept;
  void drop(std::uint32_t id);
  // Any thread: calls the poll waker, if one is set.
  void wake_loop() noexcept;
  // Runtime thread, after a handler threw: sets again the wake-ups collected but not yet
  // delivered (`bits` of word `wi` of group `gi`, the words `summary` of that group, the
  // groups `groups_left`), then wakes the loop so that a later run delivers them.
  void put_back(std::uint32_t gi, std::uint32_t wi, std::uint64_t bits, std::uint64_t summary,
                std::uint64_t groups_left) noexcept;
};

}  // namespace detail

// A copyable handle that can only wake: `waker::ref()`. Unlike the waker it is safe to use
// while another thread resets or destroys the waker; a wake after that does nothing, or
// makes one spurious call of a handler that took the slot since (handlers tolerate those).
class waker_ref {
 public:
  waker_ref() noexcept = default;
  // Thread-safe.
  void wake() const noexcept {
    if (hub_ && hub_->alive.load(std::memory_order_acquire) && hub_->set(id_)) hub_->wake_loop();
  }
  explicit operator bool() const noexcept { return hub_ != nullptr; }

 private:
  friend class waker;
  waker_ref(std::shared_ptr<detail::waker_hub> hub, std::uint32_t id) noexcept
      : hub_(std::move(hub)), id_(id) {}
  std::shared_ptr<detail::waker_hub> hub_;
  std::uint32_t id_ = 0;
};

// Wakes a handler on the runtime thread from any thread. `wake()` may be called from any
// thread, any number of times; the handler `h(core&, false)` then runs on the runtime
// thread, at the start of a later `run` (wakes that happen close together may be merged
// into one call, and spurious calls are possible). Destroying the waker, on any thread,
// delivers one final `h(core&, true)`. Made by `core::waker(handler)`; movable, not
// copyable. If the runtime is gone, wake and destruction do nothing.
//
// What a handler may do while it runs (on the runtime thread, inside `run`):
// - make and destroy wakers, its own included: the handler itself stays intact until it
//   returns, and a destroyed waker gets its "deleted" call exactly once, later (a wake
//   already collected in this run may still reach it first);
// - throw: the exception propagates out of `run` (and the loop's turn). Nothing else is
//   lost: the wake-ups and "deleted" calls not yet delivered are kept, the loop is woken,
//   and the next run delivers them. The throwing call itself counts as delivered;
// - not call `poll_wake` (std::logic_error: it is not re-entrant), nor destroy the runtime.
class STAKKER_EXPORT waker {
 public:
  waker() noexcept = default;
  waker(waker&& o) noexcept : hub_(std::move(o.hub_)), id_(o.id_) {}
  waker& operator=(waker&& o) noexcept {
    if (this != &o) {
      reset();
      hub_ = std::move(o.hub_);
      id_ = o.id_;
    }
    return *this;
  }
  waker(const waker&) = delete;
  waker& operator=(const waker&) = delete;
  ~waker() { reset(); }

  // Thread-safe. A few atomic operations, and at most one wake of the loop.
  void wake() const noexcept {
    if (hub_ && hub_->alive.load(std::memory_order_acquire) && hub_->set(id_)) hub_->wake_loop();
  }

  // Gives up the waker now (the final "deleted" call follows on the runtime thread).
  void reset() noexcept;

  // A handle for waking from code that may race with this waker's reset.
  waker_ref ref() const { return waker_ref(hub_, id_); }

  explicit operator bool() const noexcept { return hub_ != nullptr; }

 private:
  friend class core;
  waker(std::shared_ptr<detail::waker_hub> hub, std::uint32_t id) noexcept
      : hub_(std::move(hub)), id_(id) {}

  std::shared_ptr<detail::waker_hub> hub_;
  std::uint32_t id_ = 0;
};

}  // namespace stakker
