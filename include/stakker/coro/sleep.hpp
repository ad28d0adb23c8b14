// SPDX-License-Identifier: MIT OR Apache-2.0
// Timers for coroutines: sleep_for, sleep_until, with_timeout.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "stakker/core.hpp"
#include "stakker/coro/detail/pipe_node.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/coro/when.hpp"
#include "stakker/time.hpp"
#include "stakker/timer_key.hpp"

namespace stakker::coro {

namespace detail {

class sleep_awaiter {
 public:
  using stakker_awaitable = void;

  sleep_awaiter(core& c, instant at) noexcept : c_(&c), at_(at) {}
  sleep_awaiter(sleep_awaiter&& o) noexcept
      : c_(o.c_), at_(o.at_), n_(std::exchange(o.n_, nullptr)), key_(o.key_) {}
  sleep_awaiter& operator=(sleep_awaiter&&) = delete;
  ~sleep_awaiter() {
    if (n_ != nullptr) {
      c_->timer_del(key_);  // destroys the timer's closure (and its reference) if pending
      disarm(n_);
    }
  }

  // A deadline already reached does not suspend.
  bool await_ready() const noexcept { return at_ <= c_->now(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    n_ = recycled_new<plain_wake_node>(*c_);
    n_->handle = h;
    set_root(n_, root_of(h));
    key_ = c_->at(at_, wake_closure(n_));
  }
  void await_resume() const noexcept {}

 private:
  core* c_;
  instant at_;
  wake_node* n_ = nullptr;
  timer_key key_;
};

}  // namespace detail

// Suspends the awaiting coroutine until `d` has passed on `c`'s clock (the loop's time): a
// fixed timer whose expiry queues the resumption. Destroying the waiting task deletes the
// timer. A zero or negative `d` does not suspend.
inline detail::sleep_awaiter sleep_for(core& c, duration d) noexcept {
  return {c, saturating_add(c.now(), d)};  // duration::max(): never
}
inline detail::sleep_awaiter sleep_until(core& c, instant t) noexcept { return {c, t}; }

namespace detail {
inline task<void> sleep_task(core& c, duration d) { co_await sleep_for(c, d); }
}  // namespace detail

// Awaits `aw` for at most `d`: gives its value (std::optional<T>; bool for a void
// awaitable: whether it finished), or nothing once `d` has passed, in which case `aw` is
// destroyed where it waits. An exception from `aw` propagates.
template <class A>
auto with_timeout(core& c, duration d, A aw) {
  using T = typename decltype(detail::as_task(std::declval<A>()))::value_type;
  using R = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;
  return [](core& cc, duration dd, A a) -> task<R> {
    auto winner = co_await when_any(detail::as_task(std::move(a)), detail::sleep_task(cc, dd));
    if constexpr (std::is_void_v<T>) {
      co_return winner.index() == 0;
    } else {
      if (winner.index() == 0) co_return std::optional<T>(std::move(std::get<0>(winner)));
      co_return std::optional<T>();
    }
  }(c, d, std::move(aw));
}

}  // namespace stakker::coro
