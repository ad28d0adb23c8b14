// SPDX-License-Identifier: MIT OR Apache-2.0
// query through a remote<A>: a task awaits the answer of an actor on another runtime
// (contract S3 with K3). Header-only; needs the coroutine bridge (link stakker::coro).
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include "stakker/coro/query.hpp"
#include "stakker/shard/remote.hpp"

namespace stakker::shard {

namespace detail {

// Sends the call when first awaited, with a remote_ret made on the awaiting runtime; the
// answer comes back through that runtime's inbox and resumes the task there.
template <class A, auto M, bool Result, class... Args>
class remote_query_awaiter
    : public stakker::coro::detail::pipe_awaiter<
          typename stakker::coro::detail::query_traits<decltype(M)>::value, Result> {
  using R = typename stakker::coro::detail::query_traits<decltype(M)>::value;
  using base = stakker::coro::detail::pipe_awaiter<R, Result>;
  using node = stakker::coro::detail::pipe_node<R>;

 public:
  remote_query_awaiter(remote<A> target, Args... args)
      : target_(std::move(target)), args_(std::move(args)...) {}
  remote_query_awaiter(remote_query_awaiter&& o) noexcept
      : base(std::move(o)), target_(std::move(o.target_)), args_(std::move(o.args_)) {}

  // Moved into the awaiter the frame keeps (unlike the pipe it derives from): it holds its
  // remote handle after sending the call.
  static constexpr bool stakker_in_place = false;

  bool await_ready() {
    if (this->n_ == nullptr) {
      core& c = running_core_or_throw("stakker::shard::query awaited outside a runtime's run");
      this->n_ = stakker::coro::detail::recycled_new<node>(c, !Result);
      std::apply(
          [&](Args&... a) {
            call<M>(target_, std::move(a)..., make_remote(node::make_ret(this->n_)));
          },
          args_);
    }
    return base::await_ready();
  }

 private:
  remote<A> target_;
  std::tuple<Args...> args_;
};

}  // namespace detail

// `co_await query<&A::m>(r, args...)`: calls `m(cx, args..., ret<R>)` on the actor behind
// remote `r` (on its own runtime) and gives the R it answers, on the awaiting runtime. Drop
// mode: a dropped ret (the actor failed, stopped or ignored it, or its runtime is gone)
// drops the awaiting task at this await. Arguments follow the rules of call on a remote.
template <auto M, class A, class... Args>
auto query(const remote<A>& r, Args&&... args) {
  return detail::remote_query_awaiter<A, M, false, std::decay_t<Args>...>(
      r, std::forward<Args>(args)...);
}

// Result mode: gives result<R>, actor_fail if the ret was dropped.
template <auto M, class A, class... Args>
auto query_result(const remote<A>& r, Args&&... args) {
  return detail::remote_query_awaiter<A, M, true, std::decay_t<Args>...>(
      r, std::forward<Args>(args)...);
}

}  // namespace stakker::shard
