// Timers that call an actor's member: after, at, timer_max_add, timer_min_add.
#pragma once

#include <type_traits>
#include <utility>

#include "stakker/actor.hpp"
#include "stakker/core.hpp"
#include "stakker/cx.hpp"
#include "stakker/detail/actor_call.hpp"
#include "stakker/time.hpp"
#include "stakker/timer_key.hpp"

// The timer operations themselves (`after`, `at`, `timer_del`, max and min timers) are
// members of `core`; this header adds the forms that call an actor's member when the timer
// fires. Such a call is dropped (its arguments destroyed) if the actor has stopped by then.
// The target may be an actor handle or the calling actor's `cx`.

namespace stakker {

namespace detail {

template <auto M, class T, class... Args>
auto timer_call(const actor<T>& a, Args&&... args) {
  using body = bound_call<constant_fn<M>, std::decay_t<Args>...>;
  static_assert(member_callable<decltype(M), T, std::decay_t<Args>&&...>,
                "stakker timer: the member cannot be called with these arguments");
  return actor_call<T, body>{a, body{{}, {std::forward<Args>(args)...}}};
}

// The runtime of the actor a handle refers to (null once it is gone).
template <class T>
core* timer_core(const actor<T>& a) noexcept {
  actor_block* b = actor_access::block(a);
  STAKKER_ASSERT(b != nullptr, "timer for an empty actor handle");
  return core_of(b);
}

}  // namespace detail

// Calls member `M` of `target` with `args` after `d` (from core::now()). Returns an empty
// key if the actor's runtime is gone.
template <auto M, actor_handle H, class... Args>
timer_key after(const H& target, duration d, Args&&... args) {
  const auto& a = as_actor(target);
  core* c = detail::timer_core(a);
  if (c == nullptr) return {};
  return c->after(d, detail::timer_call<M>(a, std::forward<Args>(args)...));
}

// Calls member `M` of `target` with `args` at `t`.
template <auto M, actor_handle H, class... Args>
timer_key at(const H& target, instant t, Args&&... args) {
  const auto& a = as_actor(target);
  core* c = detail::timer_core(a);
  if (c == nullptr) return {};
  return c->at(t, detail::timer_call<M>(a, std::forward<Args>(args)...));
}

// A max timer calling member `M` of `target` (see core::timer_max_add).
template <auto M, actor_handle H, class... Args>
max_timer_key timer_max_add(const H& target, instant expiry, Args&&... args) {
  const auto& a = as_actor(target);
  core* c = detail::timer_core(a);
  if (c == nullptr) return {};
  return c->timer_max_add(expiry, detail::timer_call<M>(a, std::forward<Args>(args)...));
}

// A min timer calling member `M` of `target` (see core::timer_min_add).
template <auto M, actor_handle H, class... Args>
min_timer_key timer_min_add(const H& target, instant expiry, Args&&... args) {
  const auto& a = as_actor(target);
  core* c = detail::timer_core(a);
  if (c == nullptr) return {};
  return c->timer_min_add(expiry, detail::timer_call<M>(a, std::forward<Args>(args)...));
}

}  // namespace stakker
