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

// The completion handler of the ret and fwd tokens and of use_task. Asio invokes it through
// its associated executor, the runtime's: so its body always runs on the runtime's thread,
// from the runtime's queue, and delivers to `Callback` (a ret<R> or fwd<R>) there. That
// executor is the blocking.possibly one (so under io_loop the runtime runs inside the
// io_context's handler invocation), whether or not Asio asks for it (Boost.Asio 1.81 does
// not). Its
// associated cancellation slot is `signal`'s, when the token supports cancellation.
// Asio may destroy a handler uncalled (its io_context was destroyed with the operation
// pending). On the runtime's thread the callback is destroyed there and then (a ret answers
// "none"), even if the binding or the runtime is gone by then; on another thread it is handed
// to the runtime's thread through the binding (which must still exist), since callbacks are
// single-threaded.
template <class Callback, class Sig>
class callback_handler;

template <class Callback, class R0, class... Args>
class callback_handler<Callback, R0(Args...)> {
 public:
  using executor_type = runtime_executor;
  using cancellation_slot_type = net::cancellation_slot;
  using value_type = completion_value_t<Args...>;
  using callback_value = typename Callback::value_type;
  static_assert(check_delivers<callback_value, value_type>::value);

  callback_handler(Callback cb, runtime_executor ex, net::cancellation_signal* signal) noexcept
      : cb_(std::move(cb)),
        ex_(ex.require(net::execution::blocking.possibly)),
        thread_(ex.binding().thread_id()),
        signal_(signal) {}
  callback_handler(callback_handler&& o) noexcept
      : cb_(std::move(o.cb_)),
        ex_(o.ex_),
        thread_(o.thread_),
        signal_(std::exchange(o.signal_, nullptr)) {}
  callback_handler& operator=(callback_handler&&) = delete;
  ~callback_handler() {
    if (cb_) [[unlikely]]
      dropped();
  }

  executor_type get_executor() const noexcept { return ex_; }
  cancellation_slot_type get_cancellation_slot() const noexcept {
    return signal_ != nullptr ? signal_->slot() : cancellation_slot_type();
  }

  void operator()(Args... args) {
    signal_ = nullptr;
    Callback cb = std::move(cb_);  // destroyed here, on the runtime's thread
    if constexpr (std::is_void_v<value_type>) {
      cb();
    } else {
      cb(callback_value(value_type(std::move(args)...)));
    }
  }

 private:
  // Destroyed uncalled: hand the callback to the runtime's thread if this is another one.
  [[gnu::noinline]] void dropped() noexcept {
    if (std::this_thread::get_id() == thread_) return;  // destroyed with the handler, here
    try {
      ex_.execute([cb = std::move(cb_)]() mutable { Callback gone = std::move(cb); });
    } catch (...) {
      // Out of memory: nothing better than destroying it here.
    }
  }

  Callback cb_;
  runtime_executor ex_;
  std::thread::id thread_;  // the runtime's
  net::cancellation_signal* signal_;
};

}  // namespace stakker::asio::detail
