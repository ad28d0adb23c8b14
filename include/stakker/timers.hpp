// SPDX-License-Identifier: MIT OR Apache-2.0
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

// Adds a timer calling member M of `target` through `add(core&, closure)`; an empty key if
// the actor's runtime is gone.
template <auto M, class Key, class H, class Add, class... Args>
Key add_actor_timer(const H& target, Add add, Args&&... args) {
  const auto& a = as_actor(target);
  actor_block* b = actor_access::block(a);
  STAKKER_ASSERT(b != nullptr, "timer for an empty actor handle");
  core* c = core_of(b);
  if (c == nullptr) return {};
  return add(*c, timer_call<M>(a, std::forward<Args>(args)...));
}

}  // namespace detail

// Calls member `M` of `target` with `args` after `d` (from core::now()). Returns an empty
// key if the actor's runtime is gone.
template <auto M, actor_handle H, class... Args>
timer_key after(const H& target, duration d, Args&&... args) {
  return detail::add_actor_timer<M, timer_key>(
      target, [d](core& c, auto&& f) { return c.after(d, std::move(f)); },
      std::forward<Args>(args)...);
}

// Calls member `M` of `target` with `args` at `t`.
template <auto M, actor_handle H, class... Args>
timer_key at(const H& target, instant t, Args&&... args) {
  return detail::add_actor_timer<M, timer_key>(
      target, [t](core& c, auto&& f) { return c.at(t, std::move(f)); },
      std::forward<Args>(args)...);
}

// A max timer calling member `M` of `target` (see core::timer_max_add).
template <auto M, actor_handle H, class... Args>
max_timer_key timer_max_add(const H& target, instant expiry, Args&&... args) {
  return detail::add_actor_timer<M, max_timer_key>(
      target, [expiry](core& c, auto&& f) { return c.timer_max_add(expiry, std::move(f)); },
      std::forward<Args>(args)...);
}

// A min timer calling member `M` of `target` (see core::timer_min_add).
template <auto M, actor_handle H, class... Args>
min_timer_key timer_min_add(const H& target, instant expiry, Args&&... args) {
  return detail::add_actor_timer<M, min_timer_key>(
      target, [expiry](core& c, auto&& f) { return c.timer_min_add(expiry, std::move(f)); },
      std::forward<Args>(args)...);
}

}  // namespace stakker
