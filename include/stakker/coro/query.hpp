// SPDX-License-Identifier: MIT OR Apache-2.0
// query: call an actor's member that answers through a trailing ret<R>, and await R.
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include "stakker/call.hpp"
#include "stakker/coro/detail/pipe_node.hpp"

namespace stakker::coro {

namespace detail {

template <class T>
struct is_ret : std::false_type {};
template <class T>
struct is_ret<stakker::ret<T>> : std::true_type {};

// The last of a parameter list (void for none).
template <class... P>
struct last_param {
  using type = void;
};
template <class P0, class... P>
struct last_param<P0, P...> {
  using type = std::tuple_element_t<sizeof...(P), std::tuple<P0, P...>>;
};

// The one rule for a member that query calls: its last parameter is a ret<R>. Like any
// actor member it may take `cx<A>&` first or not (`void (A::*)([cx<A>&,] P..., ret<R>)`).
template <class M>
struct query_traits {
  static_assert(sizeof(M) == 0,
                "stakker::coro::query: the member must be a void member function of the actor "
                "whose last parameter is a ret<R>: void A::m([cx<A>&,] args..., ret<R>)");
};
template <class A, class... P>
struct query_traits<void (A::*)(P...)> {
  using reply = std::remove_cvref_t<typename last_param<P...>::type>;
  static_assert(is_ret<reply>::value,
                "stakker::coro::query: the member's last parameter must be a ret<R> (the "
                "answer): void A::m([cx<A>&,] args..., ret<R>)");
  using value =
      typename std::conditional_t<is_ret<reply>::value, reply, stakker::ret<int>>::value_type;
};
template <class A, class... P>
struct query_traits<void (A::*)(P...) noexcept> : query_traits<void (A::*)(P...)> {};

// M: the member's type; Fn: M itself (a runtime member pointer) or constant_fn<&A::m>.
template <class H, class M, bool Result, class Fn, class... Args>
class query_awaiter : public pipe_awaiter<typename query_traits<M>::value, Result> {
  using R = typename query_traits<M>::value;
  using base = pipe_awaiter<R, Result>;

 public:
  query_awaiter(H target, Fn member, Args... args)
      : target_(std::move(target)), member_(member), args_(std::move(args)...) {}
  query_awaiter(query_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<H>)
      : base(std::move(o)),
        target_(std::move(o.target_)),
        member_(o.member_),
        args_(std::move(o.args_)) {}
  // Inline, as await_ready below: destroyed once per co_await (out of line, 10 instructions).
  STAKKER_INLINE ~query_awaiter() = default;

  // Awaited in place even as an rvalue (see in_place_awaitable): the call takes the
  // handle and the arguments, the node goes at await_resume.
  static constexpr bool stakker_in_place = true;

  // Sends the call when first awaited; the reply always comes later (calls are queued).
  // The queued call takes over this awaiter's reference to the actor (as stakker::call, but
  // with no count taken here and none dropped with the awaiter). Always inline: once per
  // co_await, where an out-of-line call cost 10 instructions per query (g++ 12 dropped it
  // as the translation unit's inlining budget ran out).
  STAKKER_INLINE bool await_ready() {
    if (this->n_ == nullptr) {
      core& c = running_core_or_throw("stakker::coro::query awaited outside a runtime's run");
      this->n_ = recycled_new<pipe_node<R>>(c, !Result);
      using T = typename H::state_type;
      using body = stakker::detail::bound_call<Fn, Args..., stakker::ret<R>>;
      static_assert(stakker::detail::member_callable<M, T, Args&&..., stakker::ret<R>&&>,
                    "stakker::call: the member cannot be called with these arguments (check "
                    "their number and types against the member's parameters after cx<A>&)");
      std::apply(
          [&](Args&... a) {
            stakker::detail::queue_call(
                std::move(target_),  // H is actor<T>: the call takes over its reference
                body{member_, {std::move(a)..., pipe_node<R>::make_ret(this->n_)}});
          },
          args_);
    }
    return base::await_ready();
  }

 private:
  H target_;
  Fn member_;
  std::tuple<Args...> args_;
};

}  // namespace detail

// The awaiter a query gives (what `co_await` takes): `query_awaiter<A, &A::m>` for
// `query<&A::m>(a, ...)`, awaited at once as a rule; named here for those who store one.
template <class A, auto Member, class... Args>
using query_awaiter = detail::query_awaiter<stakker::actor<A>, decltype(Member), false,
                                            stakker::detail::constant_fn<Member>, Args...>;
template <class A, auto Member, class... Args>
using query_result_awaiter = detail::query_awaiter<stakker::actor<A>, decltype(Member), true,
                                                   stakker::detail::constant_fn<Member>, Args...>;

namespace detail {
// The awaiter for actor handle H, member type M called through Fn (M or constant_fn<&A::m>).
template <bool Result, class M, class Fn, class H, class... Args>
auto make_query(const H& target, Fn member, Args&&... args) {
  return query_awaiter<stakker::actor<typename H::state_type>, M, Result, Fn,
                       std::decay_t<Args>...>(stakker::as_actor(target), member,
                                              std::forward<Args>(args)...);
}
}  // namespace detail

// `co_await query(a, &A::m, args...)` calls `m(cx, args..., ret<R>)` on actor `a` (queued,
// like any call) and gives the R it answers. Drop mode: if the actor drops the ret (it
// failed, stopped or ignored it), the awaiting task is dropped at this await.
template <stakker::actor_handle H, class M, class... Args>
auto query(const H& target, M member, Args&&... args) {
  return detail::make_query<false, M>(target, member, std::forward<Args>(args)...);
}

// Result mode: gives result<R>, actor_fail if the ret was dropped.
template <stakker::actor_handle H, class M, class... Args>
auto query_result(const H& target, M member, Args&&... args) {
  return detail::make_query<true, M>(target, member, std::forward<Args>(args)...);
}

// The member fixed at compile time, as with call<&A::m>: `co_await query<&A::m>(a, args...)`
// (a little cheaper: the queued call holds no member pointer).
template <auto Member, stakker::actor_handle H, class... Args>
auto query(const H& target, Args&&... args) {
  return detail::make_query<false, decltype(Member)>(target, stakker::detail::constant_fn<Member>{},
                                                     std::forward<Args>(args)...);
}
template <auto Member, stakker::actor_handle H, class... Args>
auto query_result(const H& target, Args&&... args) {
  return detail::make_query<true, decltype(Member)>(target, stakker::detail::constant_fn<Member>{},
                                                    std::forward<Args>(args)...);
}

}  // namespace stakker::coro
