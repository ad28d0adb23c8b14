// SPDX-License-Identifier: MIT OR Apache-2.0
// cx<A>: the context an actor's members receive: its core, itself, stop and fail.
#pragma once

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <string_view>
#include <type_traits>
#include <utility>

#include "stakker/actor.hpp"
#include "stakker/core.hpp"
#include "stakker/detail/actor_call.hpp"
#include "stakker/detail/config.hpp"

namespace stakker {

// Passed by reference to every member an actor call runs (`void m(cx<A>& cx, args...)`)
// and to init functions. Valid only during that call: debug builds assert if it is used
// after the call returned or from inside another actor's call. Converts to `core&`.
template <class T>
class cx {
 public:
  using state_type = T;

  cx(stakker::core& c, const actor<T>& self, bool donor = false) noexcept
      : core_(&c), self_(&self), donor_(donor) {}
  cx(const cx&) = delete;
  cx& operator=(const cx&) = delete;

  stakker::core& core() const noexcept {
    check();
    return *core_;
  }
  operator stakker::core&() const noexcept { return core(); }
  instant now() const noexcept { return core().now(); }

  // A reference to this actor, e.g. to hand to others or to make callbacks to itself.
  const actor<T>& this_actor() const noexcept {
    check();
    return *self_;
  }

  // Stops the actor with stop_cause::stopped when the current call returns.
  void stop() noexcept { record(stop_cause::stopped()); }
  // Fails the actor with stop_cause::failed(error) when the current call returns.
  void fail(std::exception_ptr error) noexcept { record(stop_cause::failed(std::move(error))); }
  void fail(std::string_view message) { record(stop_cause::failed(message)); }
  // The first cause recorded wins; later ones are ignored.

  // Queues a call to one of this actor's own members (after everything queued so far).
  template <auto M, class... Args>
  void call(Args&&... args) {
    using body = detail::bound_call<detail::constant_fn<M>, std::decay_t<Args>...>;
    static_assert(detail::member_callable<decltype(M), T, std::decay_t<Args>&&...>,
                  "stakker::cx::call: the member cannot be called with these arguments");
    check();
    queue_self<body>(body{{}, {std::forward<Args>(args)...}});
  }
  template <class M, class... Args>
  void call(M&& m, Args&&... args) {
    using body = detail::bound_call<std::decay_t<M>, std::decay_t<Args>...>;
    static_assert(detail::member_callable<std::decay_t<M>, T, std::decay_t<Args>&&...>,
                  "stakker::cx::call: the member cannot be called with these arguments");
    check();
    queue_self<body>(body{std::forward<M>(m), {std::forward<Args>(args)...}});
  }

  // Forwarders to the core's queues.
  template <class F>
  void defer(F&& f) const {
    core().defer(std::forward<F>(f));
  }
  template <class F>
  void lazy(F&& f) const {
    core().lazy(std::forward<F>(f));
  }
  template <class F>
  void idle(F&& f) const {
    core().idle(std::forward<F>(f));
  }

  // This actor's id (contract O1) and its state type's name.
  std::uint64_t id() const noexcept { return this_actor().id(); }

  // Whether a record at `l` would reach the runtime's logger.
  bool log_enabled(log_level l) const noexcept { return core_->log_enabled(l); }
  // Writes a log record from this actor (see core::log). The STAKKER_LOG macros of
  // stakker/observe/log.hpp format a message with {fmt} and skip it when filtered out.
  void log(log_level l, std::string_view message,
           std::initializer_list<log_field> fields = {}) const {
    core().log(l, message, fields);
  }

  // Library-internal: whether the queued call running this member still holds its reference.
  bool holds_donor_ref() const noexcept { return donor_; }

 private:
  // The first self-call of a member takes over the reference of the queued call that is
  // running it, which would otherwise be dropped right after the member returns.
  // The queue's growth is out of line on both paths (see detail::emplace_on).
  template <class Body>
  void queue_self(Body&& b) {
    using call_t = detail::actor_call<T, Body>;
    if constexpr (std::is_nothrow_move_constructible_v<Body> &&
                  detail::flat_queue::stored_inline<call_t>) {
      if (donor_) {
        if (!detail::core_access::fits<call_t>(*core_)) [[unlikely]] {
          donate_grown<Body>(*core_, self_, std::move(b));  // no cx in memory: static
          donor_ = false;
          return;
        }
        // Cannot throw: the entry fits and both moves are noexcept.
        void* key = detail::core_access::emplace_fitting<call_t>(
            *core_, detail::actor_access::alias(*self_), std::move(b));
        donor_ = false;
        observe_enqueue(key);
        return;
      }
    }
    detail::emplace_on<call_t>(*core_, detail::actor_access::block(*self_),
                               detail::actor_copy<T>{self_}, std::move(b));
  }
  template <class Body>
  STAKKER_COLD static void donate_grown(stakker::core& c, const actor<T>* self, Body b) {
    using call_t = detail::actor_call<T, Body>;
    actor<T> alias = detail::actor_access::alias(*self);
    void* key;
    try {
      key = detail::core_access::emplace<call_t>(c, std::move(alias), std::move(b));
    } catch (...) {
      detail::actor_access::forget(alias);
      throw;
    }
    detail::note_queued(c, detail::actor_access::block(*self), key);
  }
  // The test before the call: the target's block is read only when something records (read
  // as note_queued's argument, it cost a self-call 0.5 ns).
  STAKKER_INLINE void observe_enqueue([[maybe_unused]] void* key) const noexcept {
#if STAKKER_OBSERVE_HOOKS
    if (detail::core_access::observing(*core_)) [[unlikely]]
      detail::note_queued(*core_, detail::actor_access::block(*self_), key);
#endif
  }

  // A dead cx's stack slot is often reused by the cx of the next actor call, which then
  // passes the first test; the state type catches that unless both actors share it.
  void check() const noexcept {
    STAKKER_ASSERT(detail::core_access::current(*core_) == detail::actor_access::block(*self_) &&
                       holds_state(detail::core_access::current(*core_)),
                   "cx used outside its actor's call (an actor's state may only be touched "
                   "by its own calls)");
  }
  static bool holds_state([[maybe_unused]] detail::actor_block* b) noexcept {
    if constexpr (std::is_abstract_v<T>)
      return true;  // the concrete type behind an interface is not known here
    else
      return b->ops == &detail::actor_block_of<T>::ops_fn;
  }
  void record(stop_cause cause) noexcept {
    check();
    detail::core_access::record(*core_, std::move(cause));
  }

  stakker::core* core_;
  const actor<T>* self_;
  bool donor_;
};

// A cx is also a handle to its actor (for call, ret_to, fwd_to and the timer forms).
template <class T>
const actor<T>& as_actor(const cx<T>& x) noexcept {
  return x.this_actor();
}

}  // namespace stakker
