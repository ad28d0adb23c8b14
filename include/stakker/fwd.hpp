// SPDX-License-Identifier: MIT OR Apache-2.0
// fwd<T>: multi-shot callbacks, and the ways to aim them at actors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "stakker/actor.hpp"
#include "stakker/cx.hpp"
#include "stakker/detail/actor_call.hpp"
#include "stakker/detail/basic_ret.hpp"

namespace stakker {

namespace detail {
template <class T>
struct fwd_access;
}  // namespace detail

// A callback that may be called any number of times. Copyable: copies share one capture
// through a non-atomic count (two words: a table pointer and one inline word). Destroying a
// fwd calls nothing. `fwd_do` targets run synchronously inside the call; `fwd_to` targets
// get a queued call on the actor (ordered, never inline; a channel's delivery may run that
// call in place where the queue would have run it next, see sync/channel.hpp).
// Single-threaded.
template <class T = void>
class fwd {
 public:
  using value_type = T;
  using arg_type = detail::value_t<T>;
  struct vtable {
    void (*call)(const detail::word& w, arg_type&& v);
    void (*copy)(detail::word& dst, const detail::word& src) noexcept;
    void (*destroy)(detail::word& w) noexcept;
    // Optional (library-internal): what `call` queues, run in place instead. Used only where
    // the runtime says that is the same order (detail::core_access::deliver_in_place).
    void (*now)(const detail::word& w, arg_type&& v) = nullptr;
  };

  // An empty fwd: calling it throws std::logic_error.
  fwd() noexcept = default;

  // A fwd<void> calling `f()` synchronously.
  template <detail::nullary_callback<T, fwd> F>
  explicit fwd(F&& f) : fwd([g = std::forward<F>(f)](std::monostate) mutable { g(); }) {}

  // A fwd calling `f(value)` synchronously.
  template <detail::callback_for<detail::value_t<T>, fwd> F>
  explicit fwd(F&& f) {
    using fn = std::decay_t<F>;
    // Inline only when calling cannot change the capture, so copies stay equivalent.
    if constexpr (detail::fits_word<fn> && std::is_invocable_v<const fn&, arg_type>) {
      ::new (static_cast<void*>(w_.bytes)) fn(std::forward<F>(f));
      static constexpr vtable vt{
          [](const detail::word& w, arg_type&& v) {
            (*std::launder(reinterpret_cast<const fn*>(w.bytes)))(std::move(v));
          },
          [](detail::word& d, const detail::word& s) noexcept { d = s; },
          [](detail::word&) noexcept {}};
      vt_ = &vt;
    } else {
      struct box {
        std::uint32_t refs;
        fn f;
      };
      w_.set_ptr(new box{1, fn(std::forward<F>(f))});
      static constexpr vtable vt{[](const detail::word& w, arg_type&& v) {
                                   // The callback may drop the last copy of this fwd: a count held
                                   // across the call keeps the box (and the running closure) alive
                                   // until it returns.
                                   struct pin {
                                     box* b;
                                     ~pin() {
                                       if (--b->refs == 0) delete b;
                                     }
                                   } p{static_cast<box*>(w.ptr())};
                                   ++p.b->refs;
                                   p.b->f(std::move(v));
                                 },
                                 [](detail::word& d, const detail::word& s) noexcept {
                                   ++static_cast<box*>(s.ptr())->refs;
                                   d = s;
                                 },
                                 [](detail::word& w) noexcept {
                                   auto* b = static_cast<box*>(w.ptr());
                                   if (--b->refs == 0) delete b;
                                 }};
      vt_ = &vt;
    }
  }

  // Low level: a table and its word, for library-defined targets.
  fwd(const vtable* vt, const void* p) noexcept : vt_(vt) { w_.set_ptr(p); }

  fwd(const fwd& o) noexcept : vt_(o.vt_) {
    if (vt_) vt_->copy(w_, o.w_);
  }
  fwd(fwd&& o) noexcept : vt_(std::exchange(o.vt_, nullptr)), w_(o.w_) {}
  fwd& operator=(fwd o) noexcept {
    std::swap(vt_, o.vt_);
    std::swap(w_, o.w_);
    return *this;
  }
  ~fwd() {
    if (vt_) vt_->destroy(w_);
  }

  // The target runs on a copy of the table pointer and capture word: the callback may
  // reassign or destroy this fwd (or drop its last copy) meanwhile. An exception from the
  // callback propagates to the caller.
  void operator()(arg_type value) const requires(!std::is_void_v<T>) {
    check();
    const vtable* vt = vt_;
    const detail::word w = w_;
    vt->call(w, std::move(value));
  }
  void operator()() const requires std::is_void_v<T> {
    check();
    const vtable* vt = vt_;
    const detail::word w = w_;
    vt->call(w, arg_type{});
  }

  explicit operator bool() const noexcept { return vt_ != nullptr; }

 private:
  template <class>
  friend struct detail::fwd_access;
  void check() const {
    if (vt_ == nullptr) throw std::logic_error("stakker::fwd called when empty");
  }

  const vtable* vt_ = nullptr;
  detail::word w_{};
};

static_assert(sizeof(fwd<int>) == 2 * sizeof(void*), "a fwd is two words");

namespace detail {

template <class T>
struct fwd_access {
  // Library-internal: calls `f`, running its target in place when it can and the runtime
  // allows it (a channel's delivery from its inbox; see core_access::deliver_in_place).
  static void deliver(const fwd<T>& f, value_t<T>&& v) {
    f.check();
    const typename fwd<T>::vtable* vt = f.vt_;
    const word w = f.w_;
    core* c = running_core;
    if (vt->now != nullptr && c != nullptr && core_access::deliver_in_place(*c))
      vt->now(w, std::move(v));
    else
      vt->call(w, std::move(v));
  }
};

template <class T, auto M, class V>
struct fwd_to_word {
  using body =
      std::conditional_t<message_with<decltype(M), T, value_t<V>>,
                         bound_call<constant_fn<M>, value_t<V>>, bound_call<constant_fn<M>>>;
  using call_t = actor_call<T, body>;
  static body make_body(value_t<V>&& v) {
    if constexpr (message_with<decltype(M), T, value_t<V>>)
      return body{{}, {std::move(v)}};
    else
      return body{};
  }
  static void call(const word& w, value_t<V>&& v) {
    auto* b = static_cast<actor_block*>(w.ptr());
    add_ref(b);
    queue_on<call_t>(b, actor_access::adopt<T>(b), make_body(std::move(v)));
  }
  // The queued call, built on the stack and run as the queue would run it (see
  // fwd_access::deliver): the same order, without the queue's write and read.
  static void now(const word& w, value_t<V>&& v) {
    auto* b = static_cast<actor_block*>(w.ptr());
    core* c = running_core;
    if (core_access::link(*c) != b->link) [[unlikely]]  // an actor of another runtime
      return call(w, std::move(v));
    add_ref(b);
    alignas(call_t) std::byte at[sizeof(call_t)];
    auto* f =
        ::new (static_cast<void*>(at)) call_t{actor_access::adopt<T>(b), make_body(std::move(v))};
    call_t::run_in_queue(f, c);  // runs it and destroys it
  }
  static constexpr typename fwd<V>::vtable vt{
      &call,
      [](word& d, const word& s) noexcept {
        add_ref(static_cast<actor_block*>(s.ptr()));
        d = s;
      },
      [](word& w) noexcept { release_ref(static_cast<actor_block*>(w.ptr())); }, &now};
};

template <class V, class Target>
struct fwd_to_fn {
  Target t;
  void operator()(value_t<V> v) const { t.send(std::move(v)); }
};

template <class V, class H, class Fn, class... Fixed>
fwd<V> fwd_to_impl(const H& target, Fn fn, Fixed&&... fixed) {
  using T = typename H::state_type;
  static_assert(message_callable<callable_t<Fn>, T, value_t<V>, std::decay_t<Fixed>...>,
                "stakker::fwd_to: the member cannot take (fixed arguments..., message)");
  const actor<T>& a = as_actor(target);
  STAKKER_ASSERT(actor_access::block(a) != nullptr, "fwd_to on an empty actor handle");
  using target_t = actor_target<T, Fn, std::decay_t<Fixed>...>;
  return fwd<V>(fwd_to_fn<V, target_t>{target_t{{fn}, a, {std::forward<Fixed>(fixed)...}}});
}

}  // namespace detail

// A fwd whose every call queues `m(cx, fixed..., value)` on `target` (dropped once the actor
// has stopped). `fwd_to<V, &A::m>(a)` stores the actor inline (no allocation); fixed
// arguments or a member pointer box the capture once (copies of the fwd share it).
template <class V, auto M, actor_handle H, class... Fixed>
fwd<V> fwd_to(const H& target, Fixed&&... fixed) {
  using T = typename H::state_type;
  if constexpr (sizeof...(Fixed) == 0 && !std::is_abstract_v<T>) {
    static_assert(detail::message_callable<decltype(M), T, detail::value_t<V>>,
                  "stakker::fwd_to: the member cannot take the message");
    actor<T> a = as_actor(target);
    STAKKER_ASSERT(detail::actor_access::block(a) != nullptr, "fwd_to on an empty actor handle");
    return fwd<V>(&detail::fwd_to_word<T, M, V>::vt, detail::actor_access::release(a));
  } else {
    return detail::fwd_to_impl<V, H, detail::constant_fn<M>>(target, {},
                                                             std::forward<Fixed>(fixed)...);
  }
}
template <class V, actor_handle H, detail::member_function M, class... Fixed>
fwd<V> fwd_to(const H& target, M member, Fixed&&... fixed) {
  return detail::fwd_to_impl<V, H, M>(target, member, std::forward<Fixed>(fixed)...);
}

// A fwd calling `f(value)` synchronously (`f()` or `f(std::monostate)` for fwd<void>).
template <class V = void, class F>
fwd<V> fwd_do(F&& f) {
  return fwd<V>(std::forward<F>(f));
}

// A fwd that ignores every call.
template <class V = void>
fwd<V> fwd_nop() {
  return fwd<V>([](detail::value_t<V>) {});
}

}  // namespace stakker
