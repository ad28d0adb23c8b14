// SPDX-License-Identifier: MIT OR Apache-2.0
// async_spawn: a stakker::coro task as an Asio asynchronous operation, so that Asio's own
// coroutines (and any other completion token) can wait for it:
//
//   int v = co_await stakker::asio::async_spawn(ex, make_task(), net::use_awaitable);
//
// The mirror of `net::co_spawn(runtime_executor, awaitable, stakker::asio::use_task)`.
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
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

// Outstanding work on `Executor` for as long as the guard lives, as co_spawn keeps it: a
// standard executor preferred with outstanding_work.tracked (unchanged if it has no such
// property), a legacy one through executor_work_guard.
template <class Executor, class = void>
class work_guard {
 public:
  using executor_type = std::decay_t<decltype(net::prefer(
      std::declval<const Executor&>(), net::execution::outstanding_work.tracked))>;
  explicit work_guard(const Executor& e)
      : ex_(net::prefer(e, net::execution::outstanding_work.tracked)) {}
  executor_type get_executor() const noexcept { return ex_; }

 private:
  executor_type ex_;
};

template <class Executor>
class work_guard<Executor, std::enable_if_t<!net::execution::is_executor<Executor>::value>> {
 public:
  using executor_type = Executor;
  explicit work_guard(const Executor& e) : guard_(e) {}
  executor_type get_executor() const noexcept { return guard_.get_executor(); }

 private:
  net::executor_work_guard<Executor> guard_;
};

// What the handler's cancellation slot and the runtime share. `root` and `cancelled` are
// only touched on the runtime's thread; `settled` is read by the slot's handler on the thread
// that emits (the handler executor's), and the count is atomic because the slot's handler
// may be destroyed there too.
struct spawn_cancel {
  coro::detail::task_root* root = nullptr;  // the spawned chain, from its start to its end
  bool cancelled = false;
  // The completion has left the runtime (or the operation was destroyed): a request emitted
  // now has nothing to cancel, and the runtime's binding may be gone.
  std::atomic<bool> settled{false};

  // On the runtime's thread, from its queue (so never while the chain runs): drops the
  // chain at its suspension point (its spawn then answers actor_fail, which completes the
  // handler with operation_aborted), or, not started yet, keeps it from starting.
  void cancel() noexcept {
    if (cancelled) return;
    cancelled = true;
    if (root != nullptr) root->drop();
  }
};

// Installed in the handler's cancellation slot. Runs on the thread that emits: it only
// queues the drop on the runtime (`execute` is thread-safe). Only a terminal request drops
// the task: dropping it may leave any state behind, which partial and total forbid.
struct spawn_cancel_handler {
  std::shared_ptr<spawn_cancel> state;
  runtime_executor ex;
  void operator()(net::cancellation_type type) {
    if ((type & net::cancellation_type::terminal) == net::cancellation_type::none) return;
    if (state->settled.load(std::memory_order_acquire)) return;
    ex.execute([s = state] { s->cancel(); });
  }
};

// One async_spawn from initiation to completion: the handler, outstanding work on the
// handler's executor and on the runtime's io_context (so that a bare `ioc.run()` does not
// return while the task runs), and the cancellation state (only if the handler has a
// connected slot). Lives in the closure that starts the task, then in the ret the task
// answers. Completes the handler exactly once: with the task's outcome; with
// operation_aborted if cancelled; with coro::task_dropped if dropped otherwise; and, if it is
// destroyed with the handler still in it (the closure that would start the task was
// destroyed unrun), with task_dropped too.
template <class Handler, class T>
class spawn_op {
  using handler_executor = std::decay_t<decltype(net::get_associated_executor(
      std::declval<const Handler&>(), std::declval<const runtime_executor&>()))>;
  using spawn_executor = std::decay_t<
      decltype(std::declval<runtime_executor&>().query(net::execution::context).get_executor())>;

 public:
  spawn_op(Handler h, runtime_executor ex)
      : h_(std::move(h)),
        ex_(ex),
        core_(&ex.runtime_core()),
        handler_work_(net::get_associated_executor(*h_, ex)),
        spawn_work_(ex.query(net::execution::context).get_executor()) {
    auto slot = net::get_associated_cancellation_slot(*h_);
    if (slot.is_connected()) {
      cancel_ = std::make_shared<spawn_cancel>();
      // blocking.never: the drop is only queued, never run inside the emitter's call.
      slot.template emplace<spawn_cancel_handler>(
          spawn_cancel_handler{cancel_, ex.require(net::execution::blocking.never)});
    }
  }
  spawn_op(spawn_op&& o) noexcept
      : h_(std::exchange(o.h_, std::nullopt)),
        ex_(o.ex_),
        core_(o.core_),
        handler_work_(std::move(o.handler_work_)),
        spawn_work_(std::move(o.spawn_work_)),
        cancel_(std::move(o.cancel_)) {}
  spawn_op& operator=(spawn_op&&) = delete;
  ~spawn_op() {
    if (h_) complete(std::make_exception_ptr(coro::task_dropped()), value_or_void());
  }

  bool cancelled() const noexcept { return cancel_ && cancel_->cancelled; }
  core& runtime_core() const noexcept { return *core_; }
  // Shared with the slot's handler; null when the handler has no connected slot.
  const std::shared_ptr<spawn_cancel>& cancel_state() const noexcept { return cancel_; }

  // On the runtime's thread, when the spawned chain answers (or is dropped).
  void finish(std::optional<coro::result<T>> r) noexcept {
    if (cancel_) cancel_->root = nullptr;  // the chain is ending
    std::exception_ptr e;
    if (r && r->has_value()) {
      if constexpr (std::is_void_v<T>) {
        return complete(e, nullptr);
      } else {
        return complete(e, std::move(**r));
      }
    }
    if (cancelled()) {
      e = std::make_exception_ptr(system_error(net::error::operation_aborted));
    } else if (r && r->error().exception) {
      e = r->error().exception;
    } else {
      e = std::make_exception_ptr(coro::task_dropped());
    }
    complete(e, value_or_void());
  }

  // Completes the handler through its associated executor (by default the runtime's).
  // Inside the runtime's run, from a closure queued on the runtime: there the handler may run
  // inline (net::dispatch), and what it throws leaves the runtime's run (and an io_loop's
  // `ioc.run()`) as an escaping closure does, not the task's noexcept completion. Outside a
  // run (the runtime is being destroyed), it is posted, unless its executor is this
  // runtime's, which will never run again (and whose binding may be gone already): then it is
  // destroyed uncalled.
  template <class V>
  void complete(std::exception_ptr e, V v) noexcept {
    if (cancel_) cancel_->settled.store(true, std::memory_order_release);
    auto slot = net::get_associated_cancellation_slot(*h_);
    auto call = [h = std::move(*h_), slot, e, v = std::move(v)]() mutable {
      slot.clear();  // on the handler's executor, as the signal is emitted there
      if constexpr (std::is_void_v<T>) {
        std::move(h)(e);
      } else {
        std::move(h)(e, std::move(v));
      }
    };
    h_.reset();
    try {
      if (stakker::detail::running_core == core_) {
        const bool elsewhere = !on_this_runtime(handler_work_.get_executor());
        ex_.execute(dispatch_closure<decltype(call)>{std::move(call), std::move(handler_work_),
                                                     std::move(spawn_work_), elsewhere});
      } else if (!on_this_runtime(handler_work_.get_executor())) {
        net::post(handler_work_.get_executor(), std::move(call));
      }
    } catch (...) {
      // Out of memory queueing the completion: the handler is destroyed uncalled.
    }
  }

 private:
  // Whether `e` runs its work on this spawn's runtime. Compares bindings by address only.
  bool on_this_runtime(const runtime_executor& e) const noexcept { return e == ex_; }
  bool on_this_runtime(const tracked_runtime_executor& e) const noexcept {
    return net::require(e, net::execution::outstanding_work.untracked) == ex_;
  }
  bool on_this_runtime(const net::any_io_executor& e) const noexcept {
    if (const auto* r = e.target<runtime_executor>()) return on_this_runtime(*r);
    if (const auto* t = e.target<tracked_runtime_executor>()) return on_this_runtime(*t);
    return false;
  }
  template <class E>
  bool on_this_runtime(const net::strand<E>& e) const noexcept {
    return on_this_runtime(e.get_inner_executor());
  }
  template <class E>
  bool on_this_runtime(const E&) const noexcept {
    return false;
  }

  // Queued on the runtime to dispatch the handler. Destroyed unrun (an exception left the
  // run before it, then the runtime went), it posts the handler to its executor instead,
  // unless that executor is the dying runtime's: the handler still runs exactly once.
  template <class Call>
  struct dispatch_closure {
    std::optional<Call> call;
    work_guard<handler_executor> work;
    work_guard<spawn_executor> spawn;
    bool post_if_dropped;
    dispatch_closure(Call c, work_guard<handler_executor> w, work_guard<spawn_executor> s,
                     bool p) noexcept
        : call(std::move(c)), work(std::move(w)), spawn(std::move(s)), post_if_dropped(p) {}
    dispatch_closure(dispatch_closure&& o) noexcept
        : call(std::move(o.call)),
          work(std::move(o.work)),
          spawn(std::move(o.spawn)),
          post_if_dropped(o.post_if_dropped) {
      o.call.reset();  // a moved-from optional stays engaged: the source must not post
    }
    dispatch_closure& operator=(dispatch_closure&&) = delete;
    ~dispatch_closure() {
      if (!call || !post_if_dropped) return;
      try {
        net::post(work.get_executor(), std::move(*call));
      } catch (...) {  // out of memory: the handler is destroyed uncalled
      }
    }
    void operator()() {
      Call c = std::move(*call);
      call.reset();
      net::dispatch(work.get_executor(), std::move(c));
    }
  };

  static auto value_or_void() {
    if constexpr (std::is_void_v<T>) {
      return nullptr;
    } else {
      return T();
    }
  }

  std::optional<Handler> h_;
  runtime_executor ex_;
  core* core_;
  work_guard<handler_executor> handler_work_;
  work_guard<spawn_executor> spawn_work_;
  std::shared_ptr<spawn_cancel> cancel_;
};

// Starts the task from the runtime's queue, on its thread (never inline), unless the handler
// was cancelled first, and hands its outcome to the spawn_op.
struct initiate_spawn {
  runtime_executor ex;
  using executor_type = runtime_executor;
  executor_type get_executor() const noexcept { return ex; }

  template <class Handler, class T>
  void operator()(Handler&& handler, coro::task<T> t) const {
    using op_type = spawn_op<std::decay_t<Handler>, T>;
    ex.execute([op = op_type(std::forward<Handler>(handler), ex), t = std::move(t)]() mutable {
      if (op.cancelled()) return op.finish(std::nullopt);  // the task never starts
      core& c = op.runtime_core();
      std::shared_ptr<spawn_cancel> cancel = op.cancel_state();
      auto h = t.release();
      using root_type = coro::detail::spawn_root<T, true>;
      auto* root = coro::detail::recycled_new<root_type>(
          ret_do<coro::result<T>>([o = std::move(op)](std::optional<coro::result<T>> r) mutable {
            o.finish(std::move(r));
          }));
      root->frame = h;
      h.promise().root = root;
      coro::detail::context::of(c).link(root, nullptr);
      if (cancel) cancel->root = root;  // until the chain ends (spawn_op::finish)
      c.defer(coro::detail::start_closure(root));
    });
  }
};

}  // namespace detail

// Starts `t` on the runtime of `ex` (from its queue, never inline; callable from any thread)
// and completes `token` with `void(std::exception_ptr, T)` (`void(std::exception_ptr)` for
// task<void>), as net::co_spawn does: the exception the task threw, or coro::task_dropped if
// it was dropped (the runtime went first, or a drop-mode await lost its ret). T must be
// default-constructible (the value passed with an error).
//
// The handler runs through its associated executor; by default that is `ex`, the runtime's
// (from its queue). From initiation until the handler is dispatched, outstanding work is
// held on the handler's executor and on the runtime's io_context, so `ioc.run()` does not
// return while the task runs.
//
// Cancellation: a terminal request on the handler's associated cancellation slot (from
// net::bind_cancellation_slot, or awaitable_operators' `||` on the losing side) drops the
// task at its suspension point, from the runtime's queue (its frames' locals are destroyed,
// as when its actor stops); the handler then completes with a system_error holding
// operation_aborted. Emit the request where the handler's executor runs (as Asio asks of any
// operation's slot): the bridge clears the slot there. Partial and total requests are
// ignored; a request after the task ended does nothing.
template <class T, class Token>
auto async_spawn(runtime_executor ex, coro::task<T> t, Token&& token) {
  static_assert(std::is_void_v<T> || std::is_default_constructible_v<T>,
                "stakker::asio::async_spawn: the task's value type must be default-constructible "
                "(Asio passes one along with an error)");
  if (!t) throw std::logic_error("stakker::asio::async_spawn: empty task");
  return net::async_initiate<Token, typename detail::spawn_signature<T>::type>(
      detail::initiate_spawn{ex}, token, std::move(t));
}

}  // namespace stakker::asio
