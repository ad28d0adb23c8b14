// SPDX-License-Identifier: MIT OR Apache-2.0
// task<T>: the lazy coroutine type of the bridge.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "stakker/coro/detail/promise.hpp"
#include "stakker/detail/config.hpp"

namespace stakker::coro {

template <class T = void>
class task;

namespace detail {

template <class T>
struct task_promise : promise_base {
  std::optional<T> value;

  task<T> get_return_object() noexcept;
  template <class U = T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  // The outcome: the value, or what the body threw.
  T take() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*value);
  }
};

template <>
struct task_promise<void> : promise_base {
  task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() const {
    if (exception) std::rethrow_exception(exception);
  }
};

// A task is consumed once, before it starts: by a co_await, a spawn or a combinator. An
// empty (default-made or moved-from), finished or already awaited task is a logic error
// there, thrown as std::logic_error("<who>: an empty, finished or already awaited task")
// before anything runs (resuming a finished frame is undefined behaviour).
[[noreturn]] STAKKER_CORO_EXPORT void throw_consumed(const char* who);
template <class P>
void check_unconsumed(std::coroutine_handle<P> h, const char* who) {
  if (!h || h.done() || h.promise().continuation) [[unlikely]]
    throw_consumed(who);
}

template <class T>
struct task_awaiter {
  using stakker_awaitable = void;
  std::coroutine_handle<task_promise<T>> child;

  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> awaiting) noexcept {
    promise_base& cp = child.promise();
    attach(cp, awaiting);
    return transfer(child, &cp, cp.root);
  }
  T await_resume() { return child.promise().take(); }
};

}  // namespace detail

// A lazy coroutine producing a T: nothing runs until it is awaited or spawned. Move-only;
// destroying a task destroys its frame wherever it is suspended (its locals' destructors
// run) and disarms whatever would have resumed it. An exception escaping the body is
// stored and rethrown where the task is awaited.
//
// Awaitable by the standard protocol, so other libraries' coroutines can `co_await` it
// too. Inside a task, every `co_await` of this library's awaitables resumes through the
// runtime queue; another library's awaitable is wrapped so that, whichever thread
// completes it, the task resumes on the runtime thread. Frames are allocated from a
// per-thread recycling allocator.
template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using value_type = T;
  using stakker_awaitable = void;

  task() noexcept = default;
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  // Runs the task inside the awaiting coroutine's chain; gives its value or rethrows.
  // Awaiting an empty, finished or already awaited task throws std::logic_error.
  detail::task_awaiter<T> operator co_await() && { return awaiter(); }
  detail::task_awaiter<T> operator co_await() & { return awaiter(); }

  // Library-internal: the frame, still owned by the task.
  std::coroutine_handle<promise_type> handle() const noexcept { return h_; }
  // Library-internal: the frame, given up by the task.
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
  friend struct detail::task_promise<T>;
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  detail::task_awaiter<T> awaiter() {
    detail::check_unconsumed(h_, "stakker::coro::task: co_await");
    return {h_};
  }

  std::coroutine_handle<promise_type> h_;
};

namespace detail {

template <class A>
concept awaitable = requires(A&& a) {
  get_awaiter(std::forward<A>(a)).await_ready();
};

template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A&&>()).await_resume());

// Any awaitable as a task (a task passes through).
template <class A>
auto as_task(A aw) -> task<await_result_t<A>> {
  co_return co_await std::move(aw);
}
template <class T>
task<T> as_task(task<T> t) noexcept {
  return t;
}

template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise>::from_promise(*this));
}

}  // namespace detail
}  // namespace stakker::coro
