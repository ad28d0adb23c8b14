// async_spawn: a stakker::coro task as an Asio asynchronous operation, so that Asio's own
// coroutines (and any other completion token) can wait for it:
//
//   int v = co_await stakker::asio::async_spawn(ex, make_task(), net::use_awaitable);
//
// The mirror of `net::co_spawn(runtime_executor, awaitable, stakker::asio::use_task)`.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "stakker/asio/executor.hpp"
#include "stakker/coro/detail/pipe_node.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"

namespace stakker::asio {

namespace detail {

template <class T>
struct spawn_signature {
  using type = void(std::exception_ptr, T);
};
template <>
struct spawn_signature<void> {
  using type = void(std::exception_ptr);
};

// Spawns the task on the runtime (from the runtime's queue, on its thread) and completes
// the handler, through the handler's associated executor, with the task's exception (or the
// task_dropped a dropped task gives) and value.
struct initiate_spawn {
  runtime_executor ex;
  using executor_type = runtime_executor;
  executor_type get_executor() const noexcept { return ex; }

  template <class Handler, class T>
  void operator()(Handler&& handler, coro::task<T> t) const {
    using H = std::decay_t<Handler>;
    auto done = [h = H(std::forward<Handler>(handler))](std::optional<coro::result<T>> r) mutable {
      std::exception_ptr e;
      if (!r) {
        e = std::make_exception_ptr(coro::task_dropped());
      } else if (!r->has_value()) {
        e = r->error().exception ? r->error().exception
                                 : std::make_exception_ptr(coro::task_dropped());
      }
      auto h_ex = net::get_associated_executor(h, net::system_executor());
      if constexpr (std::is_void_v<T>) {
        net::dispatch(h_ex, [h = std::move(h), e]() mutable { std::move(h)(e); });
      } else {
        T v = r && r->has_value() ? std::move(**r) : T();
        net::dispatch(h_ex, [h = std::move(h), e, v = std::move(v)]() mutable {
          std::move(h)(e, std::move(v));
        });
      }
    };
    ex.execute([c = &ex.runtime_core(), t = std::move(t), done = std::move(done)]() mutable {
      coro::spawn_result(*c, std::move(t), ret_do<coro::result<T>>(std::move(done)));
    });
  }
};

}  // namespace detail

// Starts `t` on the runtime of `ex` (never inline; any thread) and completes `token` with
// `void(std::exception_ptr, T)` (`void(std::exception_ptr)` for task<void>): the exception
// the task threw, or coro::task_dropped if it was dropped (its actor stopped, or a drop-mode
// await lost its ret). T must be default-constructible (the value passed with an error).
template <class T, class Token>
auto async_spawn(runtime_executor ex, coro::task<T> t, Token&& token) {
  static_assert(std::is_void_v<T> || std::is_default_constructible_v<T>,
                "stakker::asio::async_spawn: the task's value type must be default-constructible "
                "(Asio passes one along with an error)");
  return net::async_initiate<Token, typename detail::spawn_signature<T>::type>(
      detail::initiate_spawn{ex}, token, std::move(t));
}

}  // namespace stakker::asio
