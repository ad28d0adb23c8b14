// SPDX-License-Identifier: MIT OR Apache-2.0
// pipe_node: a ret<T> feeding one awaiting frame (push pipes, pull pipes, queries).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "stakker/coro/detail/context.hpp"
#include "stakker/coro/detail/promise.hpp"
#include "stakker/coro/export.hpp"
#include "stakker/coro/result.hpp"
#include "stakker/detail/config.hpp"
#include "stakker/ret.hpp"

namespace stakker::coro {

// Thrown at a drop-mode await whose ret or fwd was dropped, when the awaiting coroutine is
// not part of a spawned task (e.g. another library's coroutine awaiting it): there is no
// chain to drop, so the failure surfaces as this exception instead.
class STAKKER_CORO_EXPORT task_dropped : public std::runtime_error {
 public:
  task_dropped()
      : std::runtime_error("stakker::coro: the ret or fwd feeding this await was dropped") {}
};

namespace detail {

using stakker::detail::value_t;

[[noreturn]] STAKKER_COLD inline void throw_task_dropped() { throw task_dropped(); }

// The awaiting frame's chain, if the frame is one of ours.
template <class P>
task_root* root_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<promise_base, P>) {
    return h.promise().root;
  } else {
    return nullptr;
  }
}

// Nothing more in a pipe_node (see `Extra`).
struct no_extra {};

// `Extra` is data that must live exactly as long as the feeding ret, such as the Asio
// bridge's cancellation signal.
template <class T, class Extra = no_extra>
struct pipe_node final : wake_node {
  enum class state_t : std::uint8_t { empty, value, dropped };
  state_t state = state_t::empty;
  bool drop_mode;
  std::optional<value_t<T>> value;
  [[no_unique_address]] Extra extra;

  pipe_node(core& cc, bool drop) noexcept
      : wake_node(cc, [](wake_node* n) noexcept { recycled_delete(static_cast<pipe_node*>(n)); }),
        drop_mode(drop) {}

  // The feeding ret: a value, or "none" when destroyed uncalled. Wakes the frame (queued).
  static ret<T> make_ret(pipe_node* n) noexcept {
    add_ref(n);
    return ret<T>(&ret_fn, n);
  }
  static void ret_fn(stakker::detail::word& w, value_t<T>* v) {
    auto* n = static_cast<pipe_node*>(w.ptr());
    if (v != nullptr) {
      n->value.emplace(std::move(*v));
      n->state = state_t::value;
    } else {
      n->state = state_t::dropped;
      n->drop_root = n->drop_mode;
    }
    if (n->handle) {
      schedule_adopt(n);  // the ret's reference goes to the queued wake
    } else {
      release(n);
    }
  }
};

// Awaits a pipe_node: T (drop mode) or result<T> (result mode).
template <class T, bool Result, class Extra = no_extra>
class pipe_awaiter {
 public:
  using stakker_awaitable = void;
  using node = pipe_node<T, Extra>;

  explicit pipe_awaiter(node* n) noexcept : n_(n) {}
  pipe_awaiter(pipe_awaiter&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  pipe_awaiter& operator=(pipe_awaiter&&) = delete;
  STAKKER_INLINE ~pipe_awaiter() { disarm_node(); }

  bool await_ready() const noexcept {
    return n_->state == node::state_t::value || (Result && n_->state == node::state_t::dropped);
  }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    n_->handle = h;
    set_root(n_, root_of(h));
    if (n_->state == node::state_t::dropped) schedule(n_);  // dropped before the await
  }
  // Gives the node up as it returns (the value is out by then), so that an awaiter awaited
  // in place holds nothing afterwards, as a moved-from one would.
  static constexpr bool stakker_in_place = true;
  STAKKER_INLINE auto await_resume() {
    if constexpr (Result) {
      if (n_->state != node::state_t::value) {
        disarm_node();
        return result<T>(actor_fail{});
      }
      if constexpr (std::is_void_v<T>) {
        disarm_node();
        return result<void>();
      } else {
        result<T> r(std::move(*n_->value));
        disarm_node();
        return r;
      }
    } else {
      if (n_->state != node::state_t::value) [[unlikely]] {
        disarm_node();
        throw_task_dropped();
      }
      if constexpr (!std::is_void_v<T>) {
        T v(std::move(*n_->value));
        disarm_node();
        return v;
      } else {
        disarm_node();
      }
    }
  }

 protected:
  pipe_awaiter() noexcept = default;
  void disarm_node() noexcept {
    if (n_ != nullptr) {
      wake_node* w = std::exchange(n_, nullptr);
      disarm(w);
    }
  }
  node* n_ = nullptr;
};

}  // namespace detail
}  // namespace stakker::coro
