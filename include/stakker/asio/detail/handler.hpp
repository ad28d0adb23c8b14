// SPDX-License-Identifier: MIT OR Apache-2.0
// The completion handler behind the bridge's tokens.
#pragma once

#include <exception>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include "stakker/asio/executor.hpp"
#include "stakker/fwd.hpp"
#include "stakker/ret.hpp"

namespace stakker::asio::detail {

// What a completion `void(Args...)` delivers: nothing, its one argument, or a tuple.
template <class... Args>
struct completion_value {
  using type = std::tuple<std::decay_t<Args>...>;
};
template <>
struct completion_value<> {
  using type = void;
};
template <class A>
struct completion_value<A> {
  using type = std::decay_t<A>;
};
template <class... Args>
using completion_value_t = typename completion_value<Args...>::type;

// Whether a callback of `R` can take what a completion of value `V` delivers.
template <class R, class V>
inline constexpr bool delivers_to =
    std::is_void_v<V> ? std::is_void_v<R> : !std::is_void_v<R> && std::is_constructible_v<R, V>;

// A readable error for a callback that cannot take an operation's completion.
template <class R, class V>
struct check_delivers {
  static_assert(delivers_to<R, V>,
                "stakker::asio: the callback's type does not match the operation's completion: "
                "a completion void() needs ret<void>/fwd<void>, void(A) needs ret<A>, and "
                "void(A, B...) needs ret<std::tuple<A, B...>> (or types constructible from them)");
  static constexpr bool value = true;
};

// What the bridge's completion handlers share. Asio invokes a handler through its associated
// executor, the runtime's: so its body always runs on the runtime's thread, from the
// runtime's queue. That executor is the blocking.possibly one (so under io_loop the runtime
// runs inside the io_context's handler invocation), whether or not Asio asks for it
// (Boost.Asio 1.81 does not).
//
// Asio may destroy a handler uncalled (its io_context was destroyed with the operation
// pending). What it holds for the runtime is then destroyed there and then on the runtime's
// thread (a ret answers "none"), even if the binding or the runtime is gone by then; on
// another thread it is handed to the runtime's thread through the binding (which must still
// exist), since callbacks are single-threaded.
class handler_base {
 public:
  using executor_type = runtime_executor;
  using cancellation_slot_type = net::cancellation_slot;
  executor_type get_executor() const noexcept { return ex_; }

 protected:
  explicit handler_base(runtime_executor ex) noexcept
      : ex_(ex.require(net::execution::blocking.possibly)), thread_(ex.binding().thread_id()) {}

  // `held` (what the handler still holds, uncalled) is destroyed on the runtime's thread:
  // here, or through the binding when this is another thread.
  template <class T>
  [[gnu::noinline]] void drop_on_runtime_thread(T& held) noexcept {
    if (std::this_thread::get_id() == thread_) return;  // destroyed with the handler, here
    try {
      ex_.execute([h = std::move(held)]() mutable { T gone = std::move(h); });
    } catch (...) {
      // Out of memory: nothing better than destroying it here.
    }
  }

  // Calls `cb` with the completion's value (see completion_value).
  template <class Callback, class... Args>
  static void deliver(Callback& cb, Args&&... args) {
    using value_type = completion_value_t<Args...>;
    if constexpr (std::is_void_v<value_type>) {
      cb();
    } else {
      cb(typename Callback::value_type(value_type(std::forward<Args>(args)...)));
    }
  }

 private:
  runtime_executor ex_;
  std::thread::id thread_;  // the runtime's
};

// The completion handler of the ret and fwd tokens and of use_task: delivers to `Callback`
// (a ret<R> or fwd<R>). Its associated cancellation slot is `signal`'s, when the token
// supports cancellation.
template <class Callback, class Sig>
class callback_handler;

template <class Callback, class R0, class... Args>
class callback_handler<Callback, R0(Args...)> : public handler_base {
 public:
  static_assert(check_delivers<typename Callback::value_type, completion_value_t<Args...>>::value);

  callback_handler(Callback cb, runtime_executor ex, net::cancellation_signal* signal) noexcept
      : handler_base(ex), cb_(std::move(cb)), signal_(signal) {}
  callback_handler(callback_handler&& o) noexcept
      : handler_base(o), cb_(std::move(o.cb_)), signal_(std::exchange(o.signal_, nullptr)) {}
  callback_handler& operator=(callback_handler&&) = delete;
  ~callback_handler() {
    if (cb_) [[unlikely]]
      drop_on_runtime_thread(cb_);
  }

  cancellation_slot_type get_cancellation_slot() const noexcept {
    return signal_ != nullptr ? signal_->slot() : cancellation_slot_type();
  }

  void operator()(Args... args) {
    signal_ = nullptr;
    Callback cb = std::move(cb_);  // destroyed here, on the runtime's thread
    deliver(cb, std::move(args)...);
  }

 private:
  Callback cb_;
  net::cancellation_signal* signal_;
};

}  // namespace stakker::asio::detail
