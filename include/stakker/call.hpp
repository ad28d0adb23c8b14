// SPDX-License-Identifier: MIT OR Apache-2.0
// Calling actors: call, call_prep, make_actor, and loop-level inspect.
#pragma once

#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "stakker/actor.hpp"
#include "stakker/core.hpp"
#include "stakker/cx.hpp"
#include "stakker/detail/actor_call.hpp"
#include "stakker/runtime.hpp"

namespace stakker {

// Queues a call of member `M` (or any callable taking `(A&, cx<A>&, args...)` or
// `(A&, args...)`) on the actor's runtime. It runs later, from the queue, never inline;
// calls to one actor run in call order. Arguments are decayed and moved into the queued
// closure (inline: no allocation). If the actor is in Prep the call is parked until it is
// Ready; if it is a Zombie the call is dropped and its arguments destroyed (a `ret` among
// them answers "none").
//
//   call<&counter::add>(c, 5);        // the member fixed at compile time: fastest
//   call(c, &counter::add, 5);        // the same, through a member pointer
// Inlined: the call is as cheap as queueing its closure (the observer's test included).
template <auto M, actor_handle H, class... Args>
STAKKER_INLINE void call(const H& target, Args&&... args) {
  using T = typename H::state_type;
  using body = detail::bound_call<detail::constant_fn<M>, std::decay_t<Args>...>;
  static_assert(detail::member_callable<decltype(M), T, std::decay_t<Args>&&...>,
                "stakker::call: the member cannot be called with these arguments (check "
                "their number and types against the member's parameters after cx<A>&)");
  detail::queue_call(as_actor(target), body{{}, {std::forward<Args>(args)...}});
}

template <actor_handle H, class M, class... Args>
void call(const H& target, M&& member, Args&&... args) {
  using T = typename H::state_type;
  using body = detail::bound_call<std::decay_t<M>, std::decay_t<Args>...>;
  static_assert(detail::member_callable<std::decay_t<M>, T, std::decay_t<Args>&&...>,
                "stakker::call: the member cannot be called with these arguments (check "
                "their number and types against the member's parameters after cx<A>&)");
  detail::queue_call(as_actor(target),
                     body{std::forward<M>(member), {std::forward<Args>(args)...}});
}

namespace detail {
template <class Fn, class A, class... Args>
inline constexpr bool init_callable = std::is_invocable_v<callable_t<Fn>, cx<A>&, Args...>;
}  // namespace detail

// Queues a Prep call: `Init` is a static member `std::optional<A> init(cx<A>&, args...)` (or
// returning `A`). Run while the actor is in Prep, a value makes it Ready and the calls
// parked meanwhile then run in order; an empty optional leaves it in Prep (e.g. waiting for
// a connection, to be initialised by a later Prep call). Dropped if the actor is no longer
// in Prep. An exception escaping the init fails the actor.
template <auto Init, actor_handle H, class... Args>
void call_prep(const H& target, Args&&... args) {
  using A = typename H::state_type;
  static_assert(detail::init_callable<detail::constant_fn<Init>, A, std::decay_t<Args>&&...>,
                "stakker::call_prep: the init cannot be called as init(cx<A>&, args...)");
  const actor<A>& a = as_actor(target);
  detail::queue_on<detail::actor_init<A, detail::constant_fn<Init>, std::decay_t<Args>...>>(
      detail::actor_access::block(a), detail::constant_fn<Init>{}, a,
      std::tuple<std::decay_t<Args>...>{std::forward<Args>(args)...});
}
template <actor_handle H, class Init, class... Args>
void call_prep(const H& target, Init init, Args&&... args) {
  using A = typename H::state_type;
  static_assert(detail::init_callable<Init, A, std::decay_t<Args>&&...>,
                "stakker::call_prep: the init cannot be called as init(cx<A>&, args...)");
  const actor<A>& a = as_actor(target);
  detail::queue_on<detail::actor_init<A, Init, std::decay_t<Args>...>>(
      detail::actor_access::block(a), init, a,
      std::tuple<std::decay_t<Args>...>{std::forward<Args>(args)...});
}

namespace detail {
template <class Init>
struct init_state;
template <class R, class A, class... P>
struct init_state<R (*)(cx<A>&, P...)> {
  using type = A;
  static_assert(std::is_same_v<typename init_result<R>::state, A>,
                "stakker::make_actor: the init must return A or std::optional<A> for cx<A>&");
};
template <class R, class A, class... P>
struct init_state<R (*)(cx<A>&, P...) noexcept> : init_state<R (*)(cx<A>&, P...)> {};
}  // namespace detail

// Creates an actor and queues its init: `auto a = make_actor<&A::init>(core, notify, args...)`
// where `static std::optional<A> A::init(cx<A>&, args...)` (or returning `A`). The state
// type is deduced from the init. `notify` hears the stop cause exactly once.
template <auto Init, class... Args>
auto make_actor(core& c, ret<stop_cause> notify, Args&&... args) {
  using A = typename detail::init_state<decltype(Init)>::type;
  actor_own<A> own = actor_new<A>(c, std::move(notify));
  call_prep<Init>(own, std::forward<Args>(args)...);
  return own;
}
template <class Init, class... Args>
auto make_actor(core& c, ret<stop_cause> notify, Init init, Args&&... args) {
  using A = typename detail::init_state<Init>::type;
  actor_own<A> own = actor_new<A>(c, std::move(notify));
  call_prep(own, init, std::forward<Args>(args)...);
  return own;
}

// Runs `f(state)` synchronously if the actor is Ready and returns its result (empty
// otherwise). For the loop and tests only: calling it from inside a run (from an actor's
// call) asserts in debug builds, since an actor's state may only be touched by its calls.
template <actor_handle H, class F>
auto inspect(runtime& rt, const H& target, F&& f) {
  using T = typename H::state_type;
  using R = std::invoke_result_t<F&, T&>;
  STAKKER_ASSERT(detail::core_access::current(rt) == nullptr,
                 "stakker::inspect from inside an actor call (an actor's state may only be "
                 "touched by its own calls)");
  (void)rt;
  const actor<T>& a = as_actor(target);
  if constexpr (std::is_void_v<R>) {
    if (a.is_ready()) f(*detail::actor_access::state(a));
  } else {
    std::optional<R> out;
    if (a.is_ready()) out.emplace(f(*detail::actor_access::state(a)));
    return out;
  }
}

}  // namespace stakker
