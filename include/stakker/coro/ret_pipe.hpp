// SPDX-License-Identifier: MIT OR Apache-2.0
// Push and pull pipes: a ret feeding an awaitable (Ret → Future, Future ⇄ Ret/Ret).
#pragma once

#include <utility>

#include "stakker/coro/detail/pipe_node.hpp"

namespace stakker::coro {

// The awaiter types, for code that stores one (a member, a container) rather than
// awaiting it at once: drop mode gives T, result mode result<T>.
template <class T>
using pipe_awaiter = detail::pipe_awaiter<T, false>;
template <class T>
using pipe_result_awaiter = detail::pipe_awaiter<T, true>;

// `auto [aw, r] = ret_pipe<T>(core)`: `co_await aw` gives the value passed to `r`; value
// and waiter may come in either order. Drop mode: if `r` is destroyed uncalled, the
// awaiting task is destroyed at this await (its locals' destructors run, nothing after it
// runs) and its spawn's ret answers "none". The wake-up is queued on `c`, never inline.
template <class T>
std::pair<pipe_awaiter<T>, ret<T>> ret_pipe(core& c) {
  auto* n = detail::recycled_new<detail::pipe_node<T>>(c, true);
  return {detail::pipe_awaiter<T, false>(n), detail::pipe_node<T>::make_ret(n)};
}

// Result mode: `co_await aw` gives result<T>: the value, or actor_fail if `r` was dropped.
template <class T>
std::pair<pipe_result_awaiter<T>, ret<T>> ret_pipe_result(core& c) {
  auto* n = detail::recycled_new<detail::pipe_node<T>>(c, false);
  return {detail::pipe_awaiter<T, true>(n), detail::pipe_node<T>::make_ret(n)};
}

namespace detail {

// Sends `request` a fresh ret<T> when first awaited, then waits for that ret.
template <class T, bool Result>
class pull_awaiter : public pipe_awaiter<T, Result> {
  using base = pipe_awaiter<T, Result>;

 public:
  pull_awaiter(core& c, ret<ret<T>> request) noexcept : c_(&c), request_(std::move(request)) {}
  pull_awaiter(pull_awaiter&& o) noexcept
      : base(std::move(o)), c_(o.c_), request_(std::move(o.request_)) {}

  bool await_ready() {
    if (this->n_ == nullptr) {
      this->n_ = recycled_new<pipe_node<T>>(*c_, !Result);
      ret<T> reply = pipe_node<T>::make_ret(this->n_);
      if (request_) request_(std::move(reply));  // may answer at once
      // (with no request, `reply` is dropped here: the pipe fails at once)
    }
    return base::await_ready();
  }

 private:
  core* c_;
  ret<ret<T>> request_;
};

}  // namespace detail

// pull's awaiters (see pipe_awaiter).
template <class T>
using pull_awaiter = detail::pull_awaiter<T, false>;
template <class T>
using pull_result_awaiter = detail::pull_awaiter<T, true>;

// A pull pipe: `co_await pull<T>(core, request)` sends `request` a fresh ret<T> only when
// first awaited, and gives what that ret receives. Drop mode: if the request or the reply
// ret is dropped, the awaiting task is dropped (see ret_pipe). An awaitable never awaited
// drops `request` uncalled, so the requester hears "none".
template <class T>
pull_awaiter<T> pull(core& c, ret<ret<T>> request) {
  return {c, std::move(request)};
}

// Result mode: gives result<T>, actor_fail if the request or reply was dropped.
template <class T>
pull_result_awaiter<T> pull_result(core& c, ret<ret<T>> request) {
  return {c, std::move(request)};
}

}  // namespace stakker::coro
