// SPDX-License-Identifier: MIT OR Apache-2.0
// The promise shared by task and async_generator: where each frame hangs in its chain,
// bounded symmetric transfer, and the await_transform that marshals foreign awaitables.
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "stakker/coro/detail/context.hpp"
#include "stakker/coro/detail/recycler.hpp"

namespace stakker::coro::detail {

// Awaitables of this library say so with a nested `stakker_awaitable` type; they resume
// through the runtime queue already. Anything else awaited in a task is foreign.
template <class A>
concept native_awaitable = requires {
  typename std::remove_cvref_t<A>::stakker_awaitable;
}
|| std::is_same_v<std::remove_cvref_t<A>, std::suspend_always> ||
    std::is_same_v<std::remove_cvref_t<A>, std::suspend_never>;

// Awaiters of ours that are awaited in place even as an rvalue: they give up everything
// they hold by the end of await_resume, so a moved-from copy and the awaited original end
// the same. (Moved into a second awaiter in the frame, they cost a move and one more
// destructor per await: a query's round trip paid both.)
template <class A>
concept in_place_awaitable = native_awaitable<A> && requires {
  requires std::remove_cvref_t<A>::stakker_in_place;
};

template <class A>
class foreign_awaiter;

// An lvalue awaiter of ours, awaited in place.
template <class A>
struct native_ref {
  A* a;
  bool await_ready() { return a->await_ready(); }
  template <class P>
  decltype(auto) await_suspend(std::coroutine_handle<P> h) {
    return a->await_suspend(h);
  }
  decltype(auto) await_resume() { return a->await_resume(); }
};

struct promise_base;

// Continues with `h` (whose promise is `p`, or null if it is not ours) by symmetric
// transfer, unless this thread has made max_transfer_depth transfers since the queue last
// resumed a frame, or the chain's actor stopped while it ran: then the resumption is queued
// instead (disarmed if that frame dies), so the running resumption returns and drops the
// chain before any more of its code runs.
STAKKER_CORO_EXPORT std::coroutine_handle<> transfer_slow(std::coroutine_handle<> h,
                                                          promise_base* p,
                                                          task_root* root) noexcept;
inline std::coroutine_handle<> transfer(std::coroutine_handle<> h, promise_base* p,
                                        task_root* root) noexcept {
  if ((++transfer_depth < max_transfer_depth && (root == nullptr || !root->owner_gone)) ||
      p == nullptr) [[likely]]
    return h;
  return transfer_slow(h, p, root);
}

struct final_awaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept;
  void await_resume() const noexcept {}
};

struct promise_base {
  std::coroutine_handle<> continuation;  // who awaits this frame
  promise_base* parent = nullptr;        // its promise, if it is one of ours
  task_root* root = nullptr;             // the spawned chain this frame belongs to
  std::exception_ptr exception;
  // Set by combinators: called at the final suspend instead of resuming `continuation`.
  void (*on_done)(void* ctx, promise_base& p) noexcept = nullptr;
  void* on_done_ctx = nullptr;
  wake_node* bounce = nullptr;  // a queued resumption of this frame (see transfer)

  promise_base() noexcept = default;
  promise_base(const promise_base&) = delete;
  promise_base& operator=(const promise_base&) = delete;
  ~promise_base() { disarm(bounce); }

  // Frames come from the per-thread recycler (sized delete gives back the class).
  static void* operator new(std::size_t n) { return recycler::allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { recycler::deallocate(p, n); }

  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }

  // Our awaitables pass through; a foreign one is wrapped so that, whatever thread
  // completes it, this frame resumes on the runtime thread (through a waker). (An lvalue,
  // or an rvalue that is awaited in place, is passed on through a pointer: g++ 12 copies
  // an awaiter that await_transform returns by reference.)
  template <class A>
  auto await_transform(A&& a) {
    if constexpr (!native_awaitable<A>) {
      return foreign_awaiter<A>(std::forward<A>(a));
    } else if constexpr (in_place_awaitable<A>) {
      return native_ref<std::remove_reference_t<A>>{&a};
    } else if constexpr (!std::is_lvalue_reference_v<A>) {
      return std::remove_cvref_t<A>(std::move(a));
    } else if constexpr (requires { a.operator co_await(); }) {
      return a.operator co_await();
    } else {
      return native_ref<std::remove_reference_t<A>>{&a};
    }
  }

  // Makes `child` (ours) continue into this frame when it finishes.
  void adopt(promise_base& child, std::coroutine_handle<> self) noexcept {
    child.continuation = self;
    child.parent = this;
    child.root = root;
  }
};

// Joins `child` to whatever awaits it: our promise (same chain) or a foreign coroutine.
template <class P>
void attach(promise_base& child, std::coroutine_handle<P> awaiting) noexcept {
  if constexpr (std::is_base_of_v<promise_base, P>) {
    awaiting.promise().adopt(child, awaiting);
  } else {
    child.continuation = awaiting;
    child.parent = nullptr;
    child.root = nullptr;
  }
}

template <class P>
std::coroutine_handle<> final_awaiter::await_suspend(std::coroutine_handle<P> h) noexcept {
  promise_base& p = h.promise();
  if (p.on_done != nullptr) {
    p.on_done(p.on_done_ctx, p);
    return std::noop_coroutine();
  }
  if (p.continuation) return transfer(p.continuation, p.parent, p.root);
  if (p.root != nullptr && p.root->frame == h) p.root->ops->complete(p.root, p);
  return std::noop_coroutine();
}

}  // namespace stakker::coro::detail

#include "stakker/coro/detail/foreign.hpp"
#include "stakker/coro/export.hpp"
