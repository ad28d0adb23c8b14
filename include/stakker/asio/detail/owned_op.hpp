// SPDX-License-Identifier: MIT OR Apache-2.0
// owned_op: an Asio operation tied to an actor, for use_ret(cx, r) and use_fwd(cx, f).
#pragma once

#include <coroutine>
#include <utility>

#include "stakker/asio/detail/handler.hpp"
#include "stakker/coro/detail/context.hpp"
#include "stakker/cx.hpp"

namespace stakker::asio::detail {

// Registered with the actor like a task tied to it (a root of the coroutine bridge with no
// frame), so that the actor's stop reaches it: it then emits a terminal cancellation on the
// operation's slot and drops the callback (a ret answers "none"). Counted (not atomically;
// only touched on the runtime's thread): one reference while registered, one for the handler.
template <class Callback>
struct owned_op final : coro::detail::task_root {
  Callback cb;
  net::cancellation_signal signal;
  // The caller's own slot (net::bind_cancellation_slot around the token), chained to
  // `signal` while the operation is pending: what is emitted there reaches the operation too.
  // Cleared as soon as the operation settles or the actor stops (either frees the slot for
  // reuse, and the signal behind it must then no longer be needed).
  net::cancellation_slot user_slot;

  explicit owned_op(Callback c) noexcept : task_root(table), cb(std::move(c)) {
    frame = std::noop_coroutine();  // "registered"; destroying it does nothing
  }

  static void abandon_fn(task_root* r) noexcept {  // the actor stopped (or the runtime went)
    auto* self = static_cast<owned_op*>(r);
    self->release_user_slot();
    try {
      self->signal.emit(net::cancellation_type::terminal);
    } catch (...) {
      // A cancellation handler that throws cannot cancel; the completion is still ignored.
    }
    Callback gone = std::move(self->cb);
  }
  static void destroy_fn(task_root* r) noexcept {
    coro::detail::recycled_delete(static_cast<owned_op*>(r));
  }
  static constexpr coro::detail::root_ops table{nullptr, &abandon_fn, &destroy_fn};

  void chain_user_slot(net::cancellation_slot s) {
    user_slot = s;
    user_slot.template emplace<forwarder>(forwarder{&signal});
  }
  void release_user_slot() noexcept {
    if (user_slot.is_connected()) user_slot.clear();
    user_slot = net::cancellation_slot();
  }

  // The operation ended first: leaves the actor's list. False if the actor stopped first.
  bool settle() noexcept {
    release_user_slot();
    if (!frame) return false;
    frame = {};
    ctx->unlink(this);
    release(this);  // the registration's reference; the caller holds another
    return true;
  }

 private:
  struct forwarder {
    net::cancellation_signal* to;
    void operator()(net::cancellation_type type) { to->emit(type); }
  };
};

// The handler's reference to an owned_op; giving it up settles the operation (the
// callback, if still there, is destroyed: a ret answers "none").
template <class Callback>
struct owned_ref {
  owned_op<Callback>* op;
  explicit owned_ref(owned_op<Callback>* o) noexcept : op(o) {}
  owned_ref(owned_ref&& o) noexcept : op(std::exchange(o.op, nullptr)) {}
  owned_ref& operator=(owned_ref&&) = delete;
  ~owned_ref() {
    if (op == nullptr) return;
    if (op->settle()) Callback gone = std::move(op->cb);
    release(op);
  }
};

// The completion handler of the actor-tied tokens: like callback_handler, but the callback
// lives in the owned_op, where the actor's stop can reach it.
template <class Callback, class Sig>
class owned_handler;

template <class Callback, class R0, class... Args>
class owned_handler<Callback, R0(Args...)> : public handler_base {
 public:
  static_assert(check_delivers<typename Callback::value_type, completion_value_t<Args...>>::value);

  owned_handler(owned_op<Callback>* op, runtime_executor ex) noexcept
      : handler_base(ex), ref_(op) {}
  owned_handler(owned_handler&&) noexcept = default;
  owned_handler& operator=(owned_handler&&) = delete;
  ~owned_handler() {
    if (ref_.op != nullptr) [[unlikely]]
      drop_on_runtime_thread(ref_);  // settles the operation there
  }

  cancellation_slot_type get_cancellation_slot() const noexcept {
    return ref_.op != nullptr ? ref_.op->signal.slot() : cancellation_slot_type();
  }

  // On the runtime's thread, from its queue (the associated executor is the runtime's).
  void operator()(Args... args) {
    owned_ref<Callback> ref = std::move(ref_);
    if (!ref.op->settle()) return;  // the actor stopped first: nothing to deliver
    Callback cb = std::move(ref.op->cb);
    deliver(cb, std::move(args)...);
  }

 private:
  owned_ref<Callback> ref_;
};

// Starts `init(handler, args...)` with the operation tied to the actor of `x`, and to
// `user_slot` if that is connected.
template <class Sig, class Callback, class A, class Init, class... InitArgs>
void start_owned(cx<A>& x, Callback cb, net::cancellation_slot user_slot, Init&& init,
                 InitArgs&&... args) {
  core& c = x.core();
  runtime_executor ex = io_binding::of(c).get_executor();
  auto* op = coro::detail::recycled_new<owned_op<Callback>>(std::move(cb));
  try {
    coro::detail::context::of(c).link(op, stakker::detail::actor_access::block(x.this_actor()));
  } catch (...) {
    coro::detail::recycled_delete(op);
    throw;
  }
  coro::detail::add_ref(op);  // the handler's
  if (user_slot.is_connected()) op->chain_user_slot(user_slot);
  std::forward<Init>(init)(owned_handler<Callback, Sig>(op, ex), std::forward<InitArgs>(args)...);
}

}  // namespace stakker::asio::detail
