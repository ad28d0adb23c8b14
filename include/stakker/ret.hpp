// SPDX-License-Identifier: MIT OR Apache-2.0
// ret<T>: one-shot callbacks, and the ways to aim them at actors and runtimes.
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "stakker/actor.hpp"
#include "stakker/core.hpp"
#include "stakker/cx.hpp"
#include "stakker/detail/actor_call.hpp"
#include "stakker/detail/basic_ret.hpp"

namespace stakker {

namespace detail {

template <class T, class V, auto M, bool Some>
void ret_to_word(word& w, V* v) {
  actor<T> a = actor_access::adopt<T>(static_cast<actor_block*>(w.ptr()));
  actor_block* b = actor_access::block(a);
  if constexpr (Some) {
    if (v == nullptr) return;
    if constexpr (message_with<decltype(M), T, V>) {
      using body = bound_call<constant_fn<M>, V>;
      queue_on<actor_call<T, body>>(b, std::move(a), body{{}, {std::move(*v)}});
    } else {
      using body = bound_call<constant_fn<M>>;
      queue_on<actor_call<T, body>>(b, std::move(a), body{});
    }
  } else {
    using body = bound_call<constant_fn<M>, std::optional<V>>;
    queue_on<actor_call<T, body>>(b, std::move(a),
                                  body{{}, {v ? std::optional<V>(std::move(*v)) : std::nullopt}});
  }
}

// The general (boxed) form: any target, fixed leading arguments, a member pointer.
template <class V, bool Some, class Target>
struct ret_to_fn {
  Target t;
  void operator()(std::optional<V> v) {
    if constexpr (Some) {
      if (v) t.send_once(std::move(*v));
    } else {
      t.send_once(std::move(v));
    }
  }
};

template <class R, class H, class Fn, bool Some, class... Fixed>
ret<R> ret_to_impl(const H& target, Fn fn, Fixed&&... fixed) {
  using T = typename H::state_type;
  using V = value_t<R>;
  using Msg = std::conditional_t<Some, V, std::optional<V>>;
  static_assert(message_callable<callable_t<Fn>, T, Msg, std::decay_t<Fixed>...>,
                "stakker::ret_to / ret_some_to: the member cannot take the message (ret_to "
                "members take std::optional<T> last, ret_some_to members take T)");
  const actor<T>& a = as_actor(target);
  STAKKER_ASSERT(actor_access::block(a) != nullptr, "ret_to on an empty actor handle");
  using target_t = actor_target<T, Fn, std::decay_t<Fixed>...>;
  return ret<R>(ret_to_fn<V, Some, target_t>{target_t{{fn}, a, {std::forward<Fixed>(fixed)...}}});
}

template <class R, auto M, bool Some, class H>
ret<R> ret_to_inline(const H& target) {
  using T = typename H::state_type;
  using V = value_t<R>;
  using Msg = std::conditional_t<Some, V, std::optional<V>>;
  static_assert(message_callable<decltype(M), T, Msg>,
                "stakker::ret_to / ret_some_to: the member cannot take the message (ret_to "
                "members take std::optional<T>, ret_some_to members take T)");
  if constexpr (!std::is_abstract_v<T>) {
    actor<T> a = as_actor(target);
    STAKKER_ASSERT(actor_access::block(a) != nullptr, "ret_to on an empty actor handle");
    return ret<R>(&ret_to_word<T, V, M, Some>, actor_access::release(a));
  } else {
    return ret_to_impl<R, H, constant_fn<M>, Some>(target, {});
  }
}

// Stops the actor of block `b` with `cause`, from the queue (after what is queued already).
struct stop_actor {
  actor_block* b;
  stop_cause cause;
  stop_actor(actor_block* blk, stop_cause c) noexcept : b(blk), cause(std::move(c)) {}
  stop_actor(stop_actor&& o) noexcept : b(std::exchange(o.b, nullptr)), cause(std::move(o.cause)) {}
  ~stop_actor() {
    if (b) release_ref(b);
  }
  void operator()(core& c) { terminate(c, b, std::move(cause)); }
};

template <class T>
std::string ret_fail_text(const std::optional<value_t<T>>& v) {
  if (!v) return "ret_fail: callback dropped unanswered";
  if constexpr (std::is_same_v<T, stop_cause>)
    return "ret_fail: child terminated: " + v->text();
  else
    return "ret_fail: callback answered";
}

}  // namespace detail

// A ret whose value is delivered as a call `m(cx, fixed..., std::optional<T>)` on `target`:
// the value, or an empty optional if the ret was destroyed uncalled (the member is always
// called, exactly once, unless the actor has stopped by then). Delivery is queued on the
// actor's runtime, never inline. `ret_to<&A::m>(a)` stores the actor inline (no
// allocation); the member-pointer form and fixed arguments box the capture.
template <class R, auto M, actor_handle H, class... Fixed>
ret<R> ret_to(const H& target, Fixed&&... fixed) {
  if constexpr (sizeof...(Fixed) == 0)
    return detail::ret_to_inline<R, M, false>(target);
  else
    return detail::ret_to_impl<R, H, detail::constant_fn<M>, false>(target, {},
                                                                    std::forward<Fixed>(fixed)...);
}
template <class R, actor_handle H, detail::member_function M, class... Fixed>
ret<R> ret_to(const H& target, M member, Fixed&&... fixed) {
  return detail::ret_to_impl<R, H, M, false>(target, member, std::forward<Fixed>(fixed)...);
}

// Like ret_to, but the member takes `T` and is not called at all if the ret is dropped
// uncalled ("at most once").
template <class R, auto M, actor_handle H, class... Fixed>
ret<R> ret_some_to(const H& target, Fixed&&... fixed) {
  if constexpr (sizeof...(Fixed) == 0)
    return detail::ret_to_inline<R, M, true>(target);
  else
    return detail::ret_to_impl<R, H, detail::constant_fn<M>, true>(target, {},
                                                                   std::forward<Fixed>(fixed)...);
}
template <class R, actor_handle H, detail::member_function M, class... Fixed>
ret<R> ret_some_to(const H& target, M member, Fixed&&... fixed) {
  return detail::ret_to_impl<R, H, M, true>(target, member, std::forward<Fixed>(fixed)...);
}

// A notify callback that asks the runtime to shut down with the actor's stop cause (with
// `dropped` if the ret itself is dropped uncalled). The shutdown is queued, not inline.
inline ret<stop_cause> ret_shutdown(core& c) {
  detail::runtime_link* link = detail::core_access::link(c);
  link->add_ref();
  return ret<stop_cause>(
      [](detail::word& w, stop_cause* v) {
        auto* l = static_cast<detail::runtime_link*>(w.ptr());
        stop_cause cause = v ? std::move(*v) : stop_cause::dropped();
        if (l->rt) l->rt->defer([cause = std::move(cause)](core& rc) { rc.shutdown(cause); });
        l->release();
      },
      link);
}

// A ret that fails the calling actor whatever happens to it: called with any value or
// dropped uncalled. For a child expected to outlive its parent (use as its notify).
template <class R, class A>
ret<R> ret_fail(cx<A>& x) {
  actor<A> self = x.this_actor();
  return ret<R>([self = std::move(self)](std::optional<detail::value_t<R>> v) mutable {
    detail::actor_block* b = detail::actor_access::release(self);
    // A stop_actor temporary: if the runtime is gone, its destructor drops the reference.
    detail::queue_on<detail::stop_actor>(
        b, detail::stop_actor(b, stop_cause::failed(detail::ret_fail_text<R>(v))));
  });
}

// A notify callback that fails the calling actor if the child failed (with the child's
// error) or was lost; a child that stopped, was killed or dropped is ignored.
template <class A>
ret<stop_cause> ret_failthru(cx<A>& x) {
  actor<A> self = x.this_actor();
  return ret<stop_cause>([self = std::move(self)](std::optional<stop_cause> v) mutable {
    if (!v || (v->kind() != stop_kind::failed && v->kind() != stop_kind::lost)) return;
    stop_cause mine = v->kind() == stop_kind::failed ? stop_cause::failed(v->error())
                                                     : stop_cause::failed(v->text());
    detail::actor_block* b = detail::actor_access::release(self);
    detail::queue_on<detail::stop_actor>(b, detail::stop_actor(b, std::move(mine)));
  });
}

}  // namespace stakker
