// SPDX-License-Identifier: MIT OR Apache-2.0
// async_generator<T>: a coroutine that both co_yields and co_awaits; and spawn_stream,
// which forwards one to a fwd (Stream → Fwd).
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "stakker/coro/detail/promise.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/fwd.hpp"

namespace stakker::coro {

// A lazy, pull-based stream: `co_await gen.next()` runs the generator until its next
// `co_yield` (std::optional holding the value) or its end (std::nullopt; an exception it
// threw is rethrown there instead). One value in flight, so backpressure is built in.
// Destroying the generator destroys its frame where it waits (locals' destructors run).
// Like task, it awaits this library's awaitables through the queue and marshals foreign
// ones back to the runtime thread. Move-only.
template <class T>
class [[nodiscard]] async_generator {
 public:
  struct promise_type : detail::promise_base {
    std::optional<T> slot;
    bool running = false;    // resumed by a next(), not yet at a co_yield or the end
    bool unclaimed = false;  // `slot` was yielded while no next() was waiting
    // Chains whose next() was abandoned while this generator waited inside an await of its
    // own: its pending wakes still name them, so it keeps them (counted) until its next
    // co_yield or its end. Rare: empty, and allocation-free, otherwise.
    std::vector<detail::task_root*> held;

    promise_type() = default;
    promise_type(const promise_type&) = delete;
    promise_type& operator=(const promise_type&) = delete;
    ~promise_type() { release_held(); }
    void hold_root() {
      if (root != nullptr) {
        held.push_back(root);
        detail::add_ref(root);
      }
    }
    // On the runtime's thread, inside a resumption that holds a count of its own on the
    // chain it runs in (resume_in), so releasing that chain here frees nothing in use.
    void release_held() noexcept {
      for (detail::task_root* r : held) detail::release(r);
      held.clear();
    }

    async_generator get_return_object() noexcept {
      return async_generator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    struct yield_awaiter {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        promise_type& p = h.promise();
        p.running = false;
        if (!p.held.empty()) [[unlikely]]
          p.release_held();     // no wake of an abandoned next() is pending any more
        if (!p.continuation) {  // its next() was abandoned: keep the value for the next one
          p.unclaimed = true;
          return std::noop_coroutine();
        }
        return detail::transfer(p.continuation, p.parent, p.root);
      }
      void await_resume() const noexcept {}
    };
    template <class U = T>
    yield_awaiter yield_value(U&& v) {
      slot.emplace(std::forward<U>(v));
      return {};
    }
    void return_void() const noexcept {}
  };

  class next_awaiter {
   public:
    using stakker_awaitable = void;
    explicit next_awaiter(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    next_awaiter(const next_awaiter&) noexcept = default;
    next_awaiter& operator=(const next_awaiter&) = delete;
    // Destroyed while waiting (the awaiting frame was destroyed: a timeout or when_any
    // abandoned this next()), it detaches the generator, which goes on to its co_yield and
    // keeps that value for the next next().
    ~next_awaiter() {
      if (waiting_ && !h_.done()) {
        promise_type& p = h_.promise();
        p.continuation = {};
        p.parent = nullptr;
        // Still inside an await of its own, whose wake names the reader's chain: keep that
        // chain until the generator next yields, so the wake never finds it freed.
        if (p.running) {
          try {
            p.hold_root();
          } catch (...) {  // out of memory for the list: the reader's chain is not kept
          }
        }
      }
    }

    bool await_ready() const noexcept { return h_.done() || h_.promise().unclaimed; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> consumer) noexcept {
      promise_type& p = h_.promise();
      detail::attach(p, consumer);
      waiting_ = true;
      if (p.running) return std::noop_coroutine();  // still inside an abandoned next()'s await
      p.running = true;
      return detail::transfer(h_, &p, p.root);
    }
    std::optional<T> await_resume() {
      waiting_ = false;
      promise_type& p = h_.promise();
      p.unclaimed = false;
      if (p.exception) std::rethrow_exception(std::exchange(p.exception, {}));
      if (h_.done()) return std::nullopt;
      std::optional<T> v = std::move(p.slot);
      p.slot.reset();
      return v;
    }

   private:
    std::coroutine_handle<promise_type> h_;
    bool waiting_ = false;
  };

  async_generator() noexcept = default;
  async_generator(async_generator&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  async_generator& operator=(async_generator&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~async_generator() {
    if (h_) h_.destroy();
  }

  // The next value, or std::nullopt at the end. One next() at a time. A next() abandoned
  // before it completes (its awaiting frame destroyed, e.g. the loser of with_timeout or
  // when_any) leaves the generator to run on to its next co_yield; the following next()
  // gets that value. The generator may outlive that task meanwhile (handed to another
  // reader), even while it waits inside an await of its own.
  next_awaiter next() {
    if (!h_) throw std::logic_error("stakker::coro::async_generator::next: empty generator");
    return next_awaiter(h_);
  }
  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

 private:
  explicit async_generator(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

namespace detail {

template <class T>
void check_generator(const async_generator<T>& gen) {
  if (!gen) throw std::logic_error("stakker::coro::spawn_stream: an empty generator");
}

template <class T>
task<void> forward_stream(async_generator<T> gen, fwd<std::optional<T>> out) {
  std::exception_ptr error;
  try {
    while (std::optional<T> v = co_await gen.next()) out(std::move(v));
  } catch (...) {
    error = std::current_exception();
  }
  out(std::nullopt);                         // the end, after a failure too
  if (error) std::rethrow_exception(error);  // reported by spawn
}

}  // namespace detail

// Runs `gen` on `c`'s queue, forwarding every value to `out` and then std::nullopt. If the
// generator throws, `out` still gets std::nullopt and the exception is reported on stderr;
// if it is dropped (a drop-mode await inside it failed), nothing more is forwarded.
// An empty (default-made or moved-from) generator throws std::logic_error here, before
// anything runs (as spawn does for an empty task); a finished one forwards only nullopt.
template <class T>
void spawn_stream(core& c, async_generator<T> gen, fwd<std::optional<T>> out) {
  detail::check_generator(gen);
  spawn(c, detail::forward_stream(std::move(gen), std::move(out)), ret_nop<void>());
}

// As above, tied to the calling actor (destroyed when it stops).
template <class A, class T>
void spawn_stream(cx<A>& x, async_generator<T> gen, fwd<std::optional<T>> out) {
  detail::check_generator(gen);
  spawn(x, detail::forward_stream(std::move(gen), std::move(out)), ret_nop<void>());
}

}  // namespace stakker::coro
