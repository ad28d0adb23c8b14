// SPDX-License-Identifier: MIT OR Apache-2.0
// Completion tokens that deliver Asio operations' results into rets and fwds.
//
//   timer.async_wait(stakker::asio::use_ret(cx, ret_to<&A::on_timer>(cx)));
//   sock.async_read_some(buf, stakker::asio::use_fwd(cx, fwd_to<&A::on_read>(cx)));
//
// The value a callback receives is the operation's completion arguments: nothing for
// `void()` (ret<void>), the argument for `void(A)` (ret<A>), and a std::tuple for
// `void(A, B...)` (ret<std::tuple<A, B...>>, e.g. ret<std::tuple<error_code, std::size_t>>
// for a read). Errors are values here (operation_aborted included); a ret answers "none"
// only if the operation's handler is destroyed uncalled (its io_context went first) or, for
// the forms tied to an actor, when that actor stops.
//
// When an actor-tied operation is cancelled, its last step still runs afterwards: a composed
// read into a dynamic buffer then resizes its container, so keep that in a shared_buffer
// (shared_buffer.hpp), not in the actor's state.
//
// Any of them may be wrapped in net::bind_cancellation_slot(slot, token): emitting on that
// slot cancels the operation, whose operation_aborted then arrives as a value. For the forms
// tied to an actor the caller's slot is chained to the bridge's, so the actor's stop still
// cancels too; emit such a signal on the runtime's thread.
//
// Completions always arrive through the runtime's queue (the handler's associated executor
// is the runtime's), on the runtime's thread, whichever thread runs the io_context. The
// runtime needs an io_binding (io_loop, io_poller, or io_binding itself).
#pragma once

#include <type_traits>
#include <utility>

#include "stakker/asio/detail/handler.hpp"
#include "stakker/asio/detail/owned_op.hpp"
#include "stakker/cx.hpp"

namespace stakker::asio {

// Plain tokens: deliver into the callback; the operation is not tied to any actor.
template <class R>
struct use_ret_t {
  ret<R> r;
  runtime_executor ex;
};
template <class R>
struct use_fwd_t {
  fwd<R> f;
  runtime_executor ex;
};

// Tokens tied to an actor: when it stops, the pending operation is cancelled (terminal
// per-operation cancellation, so it ends with operation_aborted) and nothing is delivered
// afterwards; a ret then answers "none". Cost: one recycled node per operation, registered
// with the actor, on top of the plain form.
template <class A, class R>
struct use_ret_owned_t {
  cx<A>* x;
  ret<R> r;
};
template <class A, class R>
struct use_fwd_owned_t {
  cx<A>* x;
  fwd<R> f;
};

// The runtime is the one whose run is executing (std::logic_error outside a run).
template <class R>
use_ret_t<R> use_ret(ret<R> r) {
  return {std::move(r), io_binding::current().get_executor()};
}
template <class R>
use_ret_t<R> use_ret(core& c, ret<R> r) {
  return {std::move(r), executor_of(c)};
}
template <class A, class R>
use_ret_owned_t<A, R> use_ret(cx<A>& x, ret<R> r) {
  return {&x, std::move(r)};
}

template <class R>
use_fwd_t<R> use_fwd(fwd<R> f) {
  return {std::move(f), io_binding::current().get_executor()};
}
template <class R>
use_fwd_t<R> use_fwd(core& c, fwd<R> f) {
  return {std::move(f), executor_of(c)};
}
template <class A, class R>
use_fwd_owned_t<A, R> use_fwd(cx<A>& x, fwd<R> f) {
  return {&x, std::move(f)};
}

namespace detail {

template <class A, class R>
ret<R>&& owned_callback(use_ret_owned_t<A, R>& t) noexcept {
  return std::move(t.r);
}
template <class A, class R>
fwd<R>&& owned_callback(use_fwd_owned_t<A, R>& t) noexcept {
  return std::move(t.f);
}

// async_result's initiation for an actor-tied token, bare or in a cancellation_slot_binder
// (then the caller's slot is chained to the bridge's).
template <class Sig>
struct owned_result {
  using return_type = void;
  template <class Init, class Token, class... InitArgs>
  static void initiate(Init&& init, Token&& token, InitArgs&&... args) {
    if constexpr (requires { token.get_cancellation_slot(); }) {
      start_owned<Sig>(*token.get().x, owned_callback(token.get()), token.get_cancellation_slot(),
                       std::forward<Init>(init), std::forward<InitArgs>(args)...);
    } else {
      start_owned<Sig>(*token.x, owned_callback(token), {}, std::forward<Init>(init),
                       std::forward<InitArgs>(args)...);
    }
  }
};

}  // namespace detail

}  // namespace stakker::asio

STAKKER_ASIO_NAMESPACE_BEGIN

template <class R, class R0, class... Args>
class async_result<::stakker::asio::use_ret_t<R>, R0(Args...)> {
 public:
  using return_type = void;
  template <class Init, class Token, class... InitArgs>
  static void initiate(Init&& init, Token&& token, InitArgs&&... args) {
    using handler = ::stakker::asio::detail::callback_handler<::stakker::ret<R>, void(Args...)>;
    std::forward<Init>(init)(handler(std::move(token.r), token.ex, nullptr),
                             std::forward<InitArgs>(args)...);
  }
};

template <class R, class R0, class... Args>
class async_result<::stakker::asio::use_fwd_t<R>, R0(Args...)> {
 public:
  using return_type = void;
  template <class Init, class Token, class... InitArgs>
  static void initiate(Init&& init, Token&& token, InitArgs&&... args) {
    using handler = ::stakker::asio::detail::callback_handler<::stakker::fwd<R>, void(Args...)>;
    std::forward<Init>(init)(handler(std::move(token.f), token.ex, nullptr),
                             std::forward<InitArgs>(args)...);
  }
};

// The actor-tied tokens, bare or wrapped in net::bind_cancellation_slot: the operation starts
// at once, registered with the actor (detail/owned_op.hpp, owned_result above). Wrapped, the
// operation keeps the bridge's slot (the actor's stop still cancels it) and the caller's slot
// is chained to it; emit on the runtime's thread.
template <class A, class R, class R0, class... Args>
class async_result<::stakker::asio::use_ret_owned_t<A, R>, R0(Args...)>
    : public ::stakker::asio::detail::owned_result<void(Args...)> {};
template <class A, class R, class R0, class... Args>
class async_result<::stakker::asio::use_fwd_owned_t<A, R>, R0(Args...)>
    : public ::stakker::asio::detail::owned_result<void(Args...)> {};
template <class A, class R, class R0, class... Args>
class async_result<
    cancellation_slot_binder<::stakker::asio::use_ret_owned_t<A, R>, cancellation_slot>,
    R0(Args...)> : public ::stakker::asio::detail::owned_result<void(Args...)> {};
template <class A, class R, class R0, class... Args>
class async_result<
    cancellation_slot_binder<::stakker::asio::use_fwd_owned_t<A, R>, cancellation_slot>,
    R0(Args...)> : public ::stakker::asio::detail::owned_result<void(Args...)> {};

STAKKER_ASIO_NAMESPACE_END
