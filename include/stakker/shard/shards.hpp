// SPDX-License-Identifier: MIT OR Apache-2.0
// shards: one runtime per thread, each on its own epoll_loop, stopped together (contract S5).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "stakker/core.hpp"
#include "stakker/detail/inbox.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/runtime.hpp"
#include "stakker/shard/export.hpp"
#include "stakker/stop_cause.hpp"

namespace stakker::shard {

class shards;

// One shard as its own thread sees it: its runtime, its loop, its index in the group.
class STAKKER_SHARD_EXPORT context {
 public:
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  stakker::core& core() noexcept { return rt_; }
  // The loop-facing side (for inspect and the like).
  runtime& rt() noexcept { return rt_; }
  loop::epoll_loop& loop() noexcept { return loop_; }
  std::size_t index() const noexcept { return index_; }
  shards& group() noexcept { return group_; }

  // The shard whose thread this is, or null on any other thread.
  static context* current() noexcept;

 private:
  friend class shards;
  context(runtime& r, loop::epoll_loop& l, std::size_t i, shards& g) noexcept
      : rt_(r), loop_(l), index_(i), group_(g) {}
  runtime& rt_;
  loop::epoll_loop& loop_;
  std::size_t index_;
  shards& group_;
};

struct shards_options {
  std::size_t threads = 1;  // at least 1
  // Pins shard i's thread to CPU i (modulo the CPUs this process may use).
  bool pin_cpus = false;
  // What each sending thread's lane into each shard holds while the shard keeps up; a
  // lane grows past it, a block at a time, while the shard falls behind (see detail::lane).
  std::size_t ring_bytes = 16 * 1024;
  // How long an idle shard spins, watching for calls from other threads, before it sleeps
  // (see loop::epoll_loop::set_spin): lower latency between shards for a busy CPU while
  // idle. Zero: sleep at once. Unset: default_spin with two or more shards (a call between
  // shards then mostly finds its receiver awake), none with one.
  std::optional<duration> spin{};
  static constexpr duration default_spin = std::chrono::microseconds(20);
};

// N threads, each running a runtime on an epoll_loop until told to stop. Work reaches a
// shard with `on` / `on_each` (set-up code) and with remote<A> calls to the actors it made.
// A shutdown of any shard's runtime (core::shutdown), or `stop` from anywhere, stops every
// shard: each gets the first cause (a shard that stopped on its own keeps its own), and
// `join` returns them. An actor's failure stays with that actor (A6 holds per shard); an
// exception that leaves a shard's run (from `on`'s function or a ret_do callback, which
// are not actor calls) stops that shard with stop_cause::failed, and so the group.
// Destroying the group stops it (stop_cause::dropped) and joins.
class STAKKER_SHARD_EXPORT shards {
 public:
  // Starts the threads; returns once every shard can take work. Throws std::system_error
  // if a thread or loop cannot be made (the ones started are stopped and joined first),
  // std::invalid_argument for zero threads.
  explicit shards(shards_options o = {});
  ~shards();
  shards(const shards&) = delete;
  shards& operator=(const shards&) = delete;

  std::size_t size() const noexcept { return slots_.size(); }

  // Any thread: runs `fn(context&)` on shard `i`'s thread, in a later run there. Calls from
  // one thread to one shard run in the order made. False if that shard has stopped (`fn`
  // is then destroyed here). Throws std::out_of_range for a bad index.
  template <class F>
  bool on(std::size_t i, F&& fn) {
    slot& s = slots_.at(i);
    return s.box->post([f = std::forward<F>(fn), sh = s.self]() mutable { f(*sh); });
  }
  // Any thread: `fn(context&)` on every shard (a copy each). Returns how many took it.
  template <class F>
  std::size_t on_each(const F& fn) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < slots_.size(); ++i) n += on(i, F(fn)) ? 1 : 0;
    return n;
  }

  // Any thread: stops every shard with `cause` (those already stopping keep theirs).
  void stop(stop_cause cause);
  // Blocks until every shard has stopped; returns each one's cause, by index. Once: later
  // calls return the same causes. Not from a shard's own thread (std::logic_error).
  const std::vector<stop_cause>& join();
  // Whether every shard has stopped.
  bool stopped() const noexcept { return running_.load(std::memory_order_acquire) == 0; }

  // The most bytes that ever waited in one sender's lane into shard `i` beyond
  // `ring_bytes` (the shard fell that far behind; the lane grew instead of the sender
  // waiting). Any thread.
  std::size_t spill_high_water(std::size_t i) const { return slots_.at(i).box->spill_high_water(); }

 private:
  struct slot {
    std::shared_ptr<detail::inbox> box;  // set before the constructor returns
    context* self = nullptr;             // lives on the shard's thread until it ends
    std::optional<stop_cause> cause;
    std::thread thread;
  };
  struct start_gate;
  void main(std::size_t i, start_gate& gate);
  void stop_from(std::size_t origin, const stop_cause& cause);

  shards_options options_;
  std::vector<slot> slots_;
  std::vector<stop_cause> causes_;
  bool joined_ = false;
  std::atomic<std::size_t> running_{0};
};

}  // namespace stakker::shard
