// SPDX-License-Identifier: MIT OR Apache-2.0
// when_all and when_any: run several tasks at once inside the awaiting task.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "stakker/coro/detail/pipe_node.hpp"
#include "stakker/coro/task.hpp"

namespace stakker::coro {

namespace detail {

template <class T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// Starts every child inside the awaiting frame's chain; each child's completion calls
// `child_done` instead of resuming anything. The awaiting frame is resumed through the
// queue once `done()` says so; the children's frames die with this awaiter.
template <bool Any, class... T>
class when_awaiter {
 public:
  using stakker_awaitable = void;
  static constexpr std::size_t count = sizeof...(T);

  // Every task is checked before any is taken: on a logic_error the tasks still own (and
  // destroy) their frames.
  explicit when_awaiter(task<T>... tasks) {
    (check_unconsumed(tasks.handle(), Any ? "stakker::coro::when_any" : "stakker::coro::when_all"),
     ...);
    frames_ = {tasks.release()...};
    set_promises(std::make_index_sequence<count>());
  }
  when_awaiter(when_awaiter&& o) noexcept
      : frames_(std::exchange(o.frames_, {})),
        promises_(o.promises_),
        n_(std::exchange(o.n_, nullptr)) {}
  when_awaiter& operator=(when_awaiter&&) = delete;
  ~when_awaiter() {
    disarm(n_);
    for (auto h : frames_)
      if (h) h.destroy();
  }

  bool await_ready() const noexcept { return count == 0; }

  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    core& c = running_core_or_throw("stakker::coro::when_all/when_any awaited outside a run");
    n_ = recycled_new<plain_wake_node>(c);
    n_->handle = h;
    set_root(n_, root_of(h));
    remaining_ = count;
    for (promise_base* p : promises_) {
      p->root = n_->root;
      p->on_done = &child_done;
      p->on_done_ctx = this;
    }
    // Started in order; each runs until it first suspends (or finishes). None is started
    // once a winner is known, or once one stopped the chain's actor (the chain is dropped
    // when this resumption returns; no more of its code runs).
    for (std::size_t i = 0; i < count; ++i) {
      if (Any && winner_ != count) break;
      if (n_->root != nullptr && n_->root->owner_gone) break;
      frames_[i].resume();
    }
  }

  auto await_resume() {
    if constexpr (Any) {
      return take_winner(std::make_index_sequence<count>());
    } else {
      return take_all(std::make_index_sequence<count>());
    }
  }

 private:
  template <std::size_t I>
  using handle_of = std::coroutine_handle<task_promise<std::tuple_element_t<I, std::tuple<T...>>>>;

  template <std::size_t... I>
  void set_promises(std::index_sequence<I...>) noexcept {
    ((promises_[I] = &handle_of<I>::from_address(frames_[I].address()).promise()), ...);
  }

  static void child_done(void* ctx, promise_base& p) noexcept {
    auto* self = static_cast<when_awaiter*>(ctx);
    if constexpr (Any) {
      for (std::size_t i = 0; i < count; ++i)
        if (self->promises_[i] == &p) self->winner_ = i;
      // The losers are destroyed now, inside the winner's final suspend, not when the
      // awaiting frame resumes: in between, a loser woken by the queue would take a
      // generator's or fwd_stream's value only for it to be destroyed with the loser.
      // Destroyed here, each loser's await disarms its wake and leaves the value where it
      // was (a generator keeps it, a fwd_stream's buffer keeps it) for the next next().
      for (std::size_t i = 0; i < count; ++i)
        if (i != self->winner_ && self->frames_[i]) std::exchange(self->frames_[i], {}).destroy();
      schedule(self->n_);
    } else {
      if (--self->remaining_ == 0) schedule(self->n_);
    }
  }

  template <std::size_t I>
  auto take() {
    using U = std::tuple_element_t<I, std::tuple<T...>>;
    auto h = handle_of<I>::from_address(frames_[I].address());
    if constexpr (std::is_void_v<U>) {
      h.promise().take();
      return std::monostate{};
    } else {
      return h.promise().take();
    }
  }
  template <std::size_t... I>
  std::tuple<value_or_monostate<T>...> take_all(std::index_sequence<I...>) {
    // The first failure (in argument order) is rethrown; the other values are dropped.
    for (promise_base* p : promises_)
      if (p->exception) std::rethrow_exception(p->exception);
    return std::tuple<value_or_monostate<T>...>(take<I>()...);
  }
  template <std::size_t... I>
  std::variant<value_or_monostate<T>...> take_winner(std::index_sequence<I...>) {
    using V = std::variant<value_or_monostate<T>...>;
    using taker = V (*)(when_awaiter&);
    static constexpr taker table[] = {
        [](when_awaiter& self) { return V(std::in_place_index<I>, self.template take<I>()); }...};
    return table[winner_](*this);  // the losers are gone already (child_done)
  }

  std::array<std::coroutine_handle<>, count> frames_{};
  std::array<promise_base*, count> promises_{};
  wake_node* n_ = nullptr;
  std::size_t remaining_ = 0;
  std::size_t winner_ = count;
};

}  // namespace detail

// Runs every task at once inside the awaiting task; gives a tuple of their values
// (std::monostate for void) when all have finished. If any threw, the first (in argument
// order) is rethrown once all have finished.
template <class... T>
detail::when_awaiter<false, T...> when_all(task<T>... tasks) {
  return detail::when_awaiter<false, T...>(std::move(tasks)...);
}

// Runs every task at once; gives a std::variant whose index is the first to finish and
// whose value is its value (rethrows if it threw). The others are destroyed where they
// wait the moment the first finishes (before anything can wake them; their locals'
// destructors run there, inside the winner's completion); the awaiting task resumes
// through the queue after that.
template <class... T>
detail::when_awaiter<true, T...> when_any(task<T>... tasks) {
  return detail::when_awaiter<true, T...>(std::move(tasks)...);
}

}  // namespace stakker::coro
