// SPDX-License-Identifier: MIT OR Apache-2.0
// remote<A>: an actor reference any thread may hold and call through (contracts S1, S2).
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/detail/inbox.hpp"
#include "stakker/shard/remote_ret.hpp"
#include "stakker/shard/sendable.hpp"

namespace stakker::shard {

template <class A>
class remote;

namespace detail {

using stakker::detail::actor_access;
using stakker::detail::actor_block;
using stakker::detail::constant_fn;

// Keeps an actor<A> on its runtime for remote handles on other threads.
template <class A>
struct actor_pin final : inbox::home_pin {
  actor<A> a;
  actor_pin(inbox& box, actor<A> x) : home_pin(box), a(std::move(x)) {}
  void release_on_home() noexcept override { actor<A> dropped = std::move(a); }
};

template <class A>
struct remote_access;

// The parameters of a member function after an optional leading cx<C>&.
template <class... P>
struct type_list {};

template <class C, class L>
struct drop_cx {
  using type = L;
};
template <class C, class X, class... P>
struct drop_cx<C, type_list<X, P...>> {
  using type = std::conditional_t<std::is_same_v<std::remove_cvref_t<X>, cx<C>>, type_list<P...>,
                                  type_list<X, P...>>;
};

template <class M>
struct member_sig {
  static constexpr bool known = false;
};
#define STAKKER_MEMBER_SIG(QUALS)                              \
  template <class R, class C, class... P>                      \
  struct member_sig<R (C::*)(P...) QUALS> {                    \
    static constexpr bool known = true;                        \
    using cls = C;                                             \
    using params = typename drop_cx<C, type_list<P...>>::type; \
  };
STAKKER_MEMBER_SIG()
STAKKER_MEMBER_SIG(const)
STAKKER_MEMBER_SIG(noexcept)
STAKKER_MEMBER_SIG(const noexcept)
STAKKER_MEMBER_SIG(&)
STAKKER_MEMBER_SIG(&noexcept)
#undef STAKKER_MEMBER_SIG

// What a parameter crosses as: a member taking ret<R> / fwd<T> is given a remote_ret<R> /
// remote_fwd<T> by the caller; anything else crosses as the parameter's own (decayed) type,
// converted from the argument on the sending thread.
template <class P>
struct crossing {
  using type = std::decay_t<P>;
};
template <class R>
struct crossing<ret<R>> {
  using type = remote_ret<R>;
};
template <class T>
struct crossing<fwd<T>> {
  using type = remote_fwd<T>;
};
template <class P>
using crossing_t = typename crossing<std::decay_t<P>>::type;

// On the home runtime: the local form a member receives.
template <class S>
S&& to_local(S& s) noexcept {
  return std::move(s);
}
template <class R>
ret<R> to_local(remote_ret<R>& r) {
  return as_ret(std::move(r));
}
template <class T>
fwd<T> to_local(remote_fwd<T>& f) {
  return as_fwd(std::move(f));
}

// Whether the caller passed the local form where the crossing form is needed.
template <class S, class Arg>
inline constexpr bool passes_local_ret = false;
template <class R, class Arg>
inline constexpr bool passes_local_ret<remote_ret<R>, Arg> =
    std::is_same_v<std::decay_t<Arg>, ret<R>>;
template <class S, class Arg>
inline constexpr bool passes_local_fwd = false;
template <class T, class Arg>
inline constexpr bool passes_local_fwd<remote_fwd<T>, Arg> =
    std::is_same_v<std::decay_t<Arg>, fwd<T>>;

template <class P, class Arg>
constexpr bool check_argument() {
  using S = crossing_t<P>;
  static_assert(!passes_local_ret<S, Arg>,
                "stakker::call through remote<A>: a ret<T> cannot cross runtimes; pass "
                "make_remote(std::move(r)), a remote_ret<T> answered on the runtime that made it");
  static_assert(!passes_local_fwd<S, Arg>,
                "stakker::call through remote<A>: a fwd<T> cannot cross runtimes; pass "
                "make_remote(f), a remote_fwd<T> that delivers on the runtime that made it");
  static_assert(
      passes_local_ret<S, Arg> || passes_local_fwd<S, Arg> || std::is_constructible_v<S, Arg&&>,
      "stakker::call through remote<A>: an argument cannot be converted to the "
      "member's parameter (a member taking ret<R> / fwd<T> is given a "
      "remote_ret<R> / remote_fwd<T>)");
  return check_sendable<S>() && std::is_constructible_v<S, Arg&&>;
}

template <class Fn, class A, class List, class... Args>
struct remote_call_of;
template <class Fn, class A, class... P, class... Args>
struct remote_call_of<Fn, A, type_list<P...>, Args...> {
  static_assert(sizeof...(P) == sizeof...(Args),
                "stakker::call through remote<A>: wrong number of arguments for the member");
  static constexpr bool ok = (check_argument<P, Args>() && ...);
  using stored = std::tuple<crossing_t<P>...>;
};

}  // namespace detail

// An actor reference that any thread may hold, copy and call through: calls are carried to
// the actor's own runtime (its home) and queued there as ordinary calls. Calls from one
// sender (a thread, or a runtime's thread) run in the order sent. Once the actor is a
// zombie, or its home runtime is gone, calls are dropped as for a zombie: arguments
// destroyed, a remote_ret among them answering "none" where it was made. Holding a remote
// keeps the actor's memory, never the actor itself, alive (like actor<A>). Made by
// make_remote(actor) on the actor's runtime.
template <class A>
class remote {
 public:
  using state_type = A;
  using pin_type = detail::actor_pin<A>;

  remote() noexcept = default;
  remote(const remote& o) noexcept : pin_(o.pin_) {
    if (pin_ != nullptr) pin_->add_handle();
  }
  remote(remote&& o) noexcept : pin_(std::exchange(o.pin_, nullptr)) {}
  remote& operator=(remote o) noexcept {
    std::swap(pin_, o.pin_);
    return *this;
  }
  ~remote() {
    if (pin_ != nullptr) pin_->drop_handle();
  }
  explicit operator bool() const noexcept { return pin_ != nullptr; }
  friend bool operator==(const remote& a, const remote& b) noexcept { return a.pin_ == b.pin_; }

  // Library-internal.
  explicit remote(pin_type* p) noexcept : pin_(p) {}
  pin_type* pin() const noexcept { return pin_; }

 private:
  pin_type* pin_ = nullptr;
};

// On the actor's runtime thread: a remote for `a`. Throws std::logic_error for an empty
// handle, or for an actor whose runtime is gone.
template <class A>
remote<A> make_remote(const actor<A>& a) {
  detail::actor_block* b = detail::actor_access::block(a);
  if (b == nullptr) throw std::logic_error("stakker::make_remote: empty actor handle");
  core* c = b->link->rt;
  if (c == nullptr) throw std::logic_error("stakker::make_remote: the actor's runtime is gone");
  STAKKER_ASSERT(detail::running_core == nullptr || detail::running_core == c,
                 "stakker::make_remote: called from another runtime's run");
  return remote<A>(new detail::actor_pin<A>(*detail::inbox::of(*c), a));
}
template <class A>
remote<A> make_remote(const actor_own<A>& a) {
  return make_remote(a.ref());
}

// Any thread: queues a call of member `M` on the actor behind `target`, on its home
// runtime (see remote). Arguments are converted to the member's parameter types here, on
// the sending thread, and must be sendable (a readable compile error names the sendable
// form otherwise); a member's ret<R> / fwd<T> parameter takes a remote_ret<R> /
// remote_fwd<T>.
//
//   call<&counter::add>(remote_counter, 5);
template <auto M, class A, class... Args>
void call(const remote<A>& target, Args&&... args) {
  using sig = detail::member_sig<decltype(M)>;
  static_assert(sig::known,
                "stakker::call through remote<A>: name a member function of A (&A::m), not an "
                "overloaded or templated one");
  static_assert(std::is_base_of_v<typename sig::cls, A>,
                "stakker::call through remote<A>: the member does not belong to A");
  using rc = detail::remote_call_of<detail::constant_fn<M>, A, typename sig::params, Args...>;
  if constexpr (rc::ok) {
    using pin_type = detail::actor_pin<A>;
    pin_type* p = target.pin();
    if (p == nullptr) throw std::logic_error("stakker::call: empty remote handle");
    // Counted as sent (see inbox::home_pin): the pin, and so the actor's memory, stays
    // until the call has run on the home. Destroyed unrun only once the home has closed:
    // then it leaves the pin alone.
    struct item {
      pin_type* p;
      typename rc::stored args;
      item(pin_type* x, typename rc::stored&& a) : p(x), args(std::move(a)) { p->item_sent(); }
      item(item&& o) noexcept : p(o.p), args(std::move(o.args)) {}
      void operator()() {
        struct ran {
          pin_type* p;
          ~ran() { p->item_ran(); }
        } guard{p};
        if (!p->a) return;  // released: the home let go of the actor
        std::apply([&](auto&... s) { stakker::call<M>(p->a, detail::to_local(s)...); }, args);
      }
    };
    p->box().post(item(p, typename rc::stored(std::forward<Args>(args)...)));
  }
}

}  // namespace stakker::shard
