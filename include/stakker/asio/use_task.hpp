// SPDX-License-Identifier: MIT OR Apache-2.0
// use_task: awaiting Asio operations from stakker::coro tasks.
//
//   std::size_t n = co_await sock.async_read_some(net::buffer(buf), stakker::asio::use_task);
//
// The initiating function returns an awaitable, and the operation starts when it is awaited
// (like Asio's use_awaitable). Results come as use_awaitable gives them: a leading
// error_code or exception_ptr is thrown (as system_error) when set and dropped from the
// result; what remains is returned: nothing, one value, or a std::tuple. Wrap the token in
// Asio's `as_tuple` to get errors as values instead.
//
// The task resumes from the runtime's queue on the runtime's thread, whichever thread runs
// the io_context. Destroying the waiting task (dropped, its actor stopped, abandoned by
// when_any or with_timeout) cancels the operation through its cancellation slot (terminal:
// it ends with operation_aborted) and nothing is resumed. A slot of the caller's own
// (net::bind_cancellation_slot(slot, use_task)), emitted on the runtime's thread, cancels it
// too; the task then resumes with the operation's error. The operation's last step still
// runs afterwards: a composed read into a dynamic buffer then resizes its container, so keep
// that in a shared_buffer (shared_buffer.hpp), not in the frame. If the operation's handler is
// destroyed uncalled (its io_context went first), the task is dropped (drop mode). Only
// for stakker::coro tasks on a runtime with an io_binding.
#pragma once

#include <coroutine>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

#include "stakker/asio/detail/handler.hpp"
#include "stakker/coro/detail/pipe_node.hpp"

namespace stakker::asio {

struct use_task_t {};
inline constexpr use_task_t use_task{};

namespace detail {

// The cancellation signal of one operation, kept in the node its handler's ret feeds, so
// that it lives as long as the handler (composed operations use the slot until they end).
struct cancel_signal {
  net::cancellation_signal signal;
};

// Awaits one operation's completion value through a pipe node (drop mode: if the handler is
// destroyed uncalled, the awaiting chain is dropped). Destroying the
// awaiter while the operation is pending (its task was destroyed, or its actor stopped)
// emits a terminal cancellation on the operation's slot, inline on the runtime's thread: the
// operation ends with operation_aborted, and its completion then reaches no one.
template <class V>
class op_awaiter : public coro::detail::pipe_awaiter<V, false, cancel_signal> {
  using base = coro::detail::pipe_awaiter<V, false, cancel_signal>;

 public:
  using node = typename base::node;
  op_awaiter(op_awaiter&&) noexcept = default;
  ~op_awaiter() { cancel(); }

 protected:
  op_awaiter() noexcept = default;

  template <class Sig>
  static callback_handler<ret<V>, Sig> make_handler(core& c, node* n) {
    return callback_handler<ret<V>, Sig>(node::make_ret(n), io_binding::of(c).get_executor(),
                                         &n->extra.signal);
  }

 private:
  void cancel() noexcept {
    if (this->n_ != nullptr && this->n_->state == node::state_t::empty) {
      try {
        this->n_->extra.signal.emit(net::cancellation_type::terminal);
      } catch (...) {
        // A cancellation handler that throws cannot cancel; the completion is still ignored.
      }
    }
  }
};

// Throws a set error_code (as system_error) or exception_ptr.
inline void throw_if_error(const error_code& ec) {
  if (ec) throw system_error(ec);
}
inline void throw_if_error(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}
template <class A>
inline constexpr bool is_error_v =
    std::is_same_v<A, error_code> || std::is_same_v<A, std::exception_ptr>;

// The completion value of `void(Args...)` as Asio's use_awaitable gives it: a leading
// error_code or exception_ptr is thrown if set and removed; what remains is returned
// (nothing, one value, or a tuple).
template <class... Args, class V>
auto unpack_completion(V&& v) {
  using first = std::decay_t<std::tuple_element_t<0, std::tuple<Args...>>>;
  if constexpr (sizeof...(Args) == 1) {
    if constexpr (is_error_v<first>) {
      throw_if_error(v);
    } else {
      return std::forward<V>(v);
    }
  } else if constexpr (!is_error_v<first>) {
    return std::forward<V>(v);
  } else {
    throw_if_error(std::get<0>(v));
    if constexpr (sizeof...(Args) == 2) {
      return std::move(std::get<1>(v));
    } else {
      return std::apply(
          [](auto&&, auto&&... rest) {
            return std::tuple<std::decay_t<decltype(rest)>...>(std::move(rest)...);
          },
          std::move(v));
    }
  }
}

// Installed in a cancellation slot of the caller's own (net::bind_cancellation_slot around
// use_task): passes what is emitted there on to the operation's own signal. Cleared from that
// slot before the signal goes (task_op below), so the pointer never dangles.
struct cancel_forwarder {
  net::cancellation_signal* to;
  void operator()(net::cancellation_type type) { to->emit(type); }
};

// No slot of the caller's own.
struct no_user_slot {};

// The awaitable returned by an initiating function given use_task: holds the initiation
// and its arguments until awaited. `Slot` is the caller's own cancellation slot, if the token
// was wrapped in net::bind_cancellation_slot: what is emitted there cancels the operation too,
// alongside the task's destruction (the operation itself sees the bridge's slot).
template <class Sig, class Slot, class Init, class... InitArgs>
class task_op;

template <class R0, class... Args, class Slot, class Init, class... InitArgs>
class task_op<R0(Args...), Slot, Init, InitArgs...>
    : public op_awaiter<completion_value_t<Args...>> {
  using base = op_awaiter<completion_value_t<Args...>>;
  using node = typename base::node;

 public:
  template <class I, class... A>
  explicit task_op(Slot slot, I&& init, A&&... args)
      : slot_(std::move(slot)), init_(std::forward<I>(init)), args_(std::forward<A>(args)...) {}
  task_op(task_op&& o) noexcept
      : base(std::move(o)),
        slot_(std::move(o.slot_)),
        armed_(std::exchange(o.armed_, false)),
        init_(std::move(o.init_)),
        args_(std::move(o.args_)) {}
  ~task_op() { disarm_slot(); }

  bool await_ready() const noexcept { return false; }
  auto await_resume() {
    disarm_slot();  // the operation ended: the caller's slot is free again
    if constexpr (sizeof...(Args) == 0) {
      base::await_resume();
    } else {
      return unpack_completion<Args...>(base::await_resume());
    }
  }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    core& c = coro::detail::running_core_or_throw(
        "stakker::asio::use_task: an operation was awaited outside a runtime's run");
    node* n = coro::detail::recycled_new<node>(c, true);
    this->n_ = n;
    n->handle = h;
    coro::detail::set_root(n, coro::detail::root_of(h));
    try {
      auto handler = base::template make_handler<void(Args...)>(c, n);
      if constexpr (!std::is_same_v<Slot, no_user_slot>) {
        if (slot_.is_connected()) {
          slot_.template emplace<cancel_forwarder>(cancel_forwarder{&n->extra.signal});
          armed_ = true;
        }
      }
      std::apply([&](InitArgs&... a) { std::move(init_)(std::move(handler), std::move(a)...); },
                 args_);
    } catch (...) {
      disarm_slot();
      n->handle = {};  // the dropped handler's wake does nothing; the exception resumes h
      throw;
    }
  }

 private:
  // Only if this awaiter armed it: after await_resume the caller may reuse the slot.
  void disarm_slot() noexcept {
    if constexpr (!std::is_same_v<Slot, no_user_slot>) {
      if (armed_) slot_.clear();
      armed_ = false;
    }
  }

  [[no_unique_address]] Slot slot_;
  bool armed_ = false;
  Init init_;
  std::tuple<InitArgs...> args_;
};

}  // namespace detail
}  // namespace stakker::asio

STAKKER_ASIO_NAMESPACE_BEGIN

template <class R0, class... Args>
class async_result<::stakker::asio::use_task_t, R0(Args...)> {
 public:
  template <class Init, class... InitArgs>
  static auto initiate(Init&& init, ::stakker::asio::use_task_t, InitArgs&&... args) {
    return ::stakker::asio::detail::task_op<void(Args...), ::stakker::asio::detail::no_user_slot,
                                            std::decay_t<Init>, std::decay_t<InitArgs>...>(
        {}, std::forward<Init>(init), std::forward<InitArgs>(args)...);
  }
};

// use_task wrapped in net::bind_cancellation_slot: the operation keeps the bridge's slot (the
// task's destruction still cancels it), and the caller's slot is chained to it. Emit on the
// runtime's thread.
template <class Slot, class R0, class... Args>
class async_result<cancellation_slot_binder<::stakker::asio::use_task_t, Slot>, R0(Args...)> {
 public:
  template <class Init, class Token, class... InitArgs>
  static auto initiate(Init&& init, Token&& token, InitArgs&&... args) {
    return ::stakker::asio::detail::task_op<void(Args...), Slot, std::decay_t<Init>,
                                            std::decay_t<InitArgs>...>(
        token.get_cancellation_slot(), std::forward<Init>(init), std::forward<InitArgs>(args)...);
  }
};

STAKKER_ASIO_NAMESPACE_END
