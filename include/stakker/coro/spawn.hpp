// SPDX-License-Identifier: MIT OR Apache-2.0
// spawn: run a task (or any awaitable) on a runtime, its value going to a ret (Future → Ret).
#pragma once

#include <cstdio>
#include <exception>
#include <type_traits>
#include <utility>

#include "stakker/coro/detail/context.hpp"
#include "stakker/coro/export.hpp"
#include "stakker/coro/result.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"

namespace stakker::coro {

namespace detail {

STAKKER_CORO_EXPORT void report_escaped(std::exception_ptr e) noexcept;

// The spawn's answer: `ret<T>` (drop or exception: "none"; an exception is also reported
// on stderr), or `ret<result<T>>` for spawn_result (actor_fail, holding the exception).
// The answer is given from the task's last step, which cannot throw: an exception from the
// ret's callback is rethrown out of the current run (stakker::detail::callback_threw).
template <class T, bool Result>
struct spawn_root final : task_root {
  using answer_type = std::conditional_t<Result, result<T>, T>;
  ret<answer_type> done;

  explicit spawn_root(ret<answer_type> r) noexcept : task_root(table), done(std::move(r)) {}

  static void abandon_fn(task_root* b) noexcept {
    auto* self = static_cast<spawn_root*>(b);
    if constexpr (Result) {
      if (self->done) stakker::detail::answer_nothrow(self->done, result<T>(actor_fail{}));
    } else {
      self->done.reset();
    }
  }
  static void destroy_fn(task_root* b) noexcept { recycled_delete(static_cast<spawn_root*>(b)); }
  static void complete_fn(task_root* b, promise_base& pb) noexcept {
    auto* self = static_cast<spawn_root*>(b);
    auto& p = static_cast<task_promise<T>&>(pb);
    self->ctx->unlink(self);
    std::coroutine_handle<> f = std::exchange(self->frame, {});
    // (Tested before it is moved out: a moved-from exception_ptr kept to the end costs a
    // spill and a second test on the path where there is none.)
    if (p.exception) [[unlikely]] {
      std::exception_ptr e = std::move(p.exception);
      f.destroy();
      fail(self, std::move(e));
    } else if constexpr (std::is_void_v<T>) {
      f.destroy();
      succeed(self);
    } else {
      T v = std::move(*p.value);
      f.destroy();
      succeed(self, std::move(v));
    }
    release_typed(self);  // the chain's reference
  }

  // Gives up a reference, freeing the root by its own type if it was the last (a direct
  // call where `release` goes through the table).
  static void release_typed(spawn_root* self) noexcept {
    if (--self->refs == 0) destroy_fn(self);
  }

  static void fail(spawn_root* self, std::exception_ptr e) noexcept {
    if (!self->done) return;
    if constexpr (Result) {
      stakker::detail::answer_nothrow(self->done, result<T>(actor_fail{e}));
    } else {
      report_escaped(e);
      self->done.reset();
    }
  }

  template <class... V>
  static void succeed(spawn_root* self, V&&... v) noexcept {
    if (!self->done) return;
    if constexpr (std::is_void_v<answer_type>) {
      stakker::detail::answer_nothrow(self->done);
    } else {
      stakker::detail::answer_nothrow(self->done, answer_type(std::forward<V>(v)...));
    }
  }

  static constexpr root_ops table{&complete_fn, &abandon_fn, &destroy_fn};
};

// Queued start: the chain runs its first step on the queue, never inside spawn. Typed by
// its root (a spawn_root), so that its reference, usually the root's last, is given up
// without a call through the root's table.
template <class Root>
struct start_closure {
  Root* r;
  explicit start_closure(Root* root) noexcept : r(root) { add_ref(root); }
  start_closure(start_closure&& o) noexcept : r(std::exchange(o.r, nullptr)) {}
  start_closure(const start_closure&) = delete;
  ~start_closure() {
    if (r != nullptr) Root::release_typed(r);
  }
  void operator()(core& c) noexcept {
    run_in_queue(this, &c);
    r = nullptr;  // released there
  }
  // The queue's runner: runs (or, with a null core, only destroys) the closure in place,
  // with no second look at `r` afterwards (see flat_queue::run_entry).
  static void run_in_queue(start_closure* f, core* c) noexcept {
    Root* root = f->r;
    if (c != nullptr && root->frame) resume_held(root, root->frame);
    Root::release_typed(root);
  }
};

// By reference: the public spawns' own parameters are the only copies (by value, each
// would be moved once more and destroyed empty once more per spawn).
template <bool Result, class T>
void spawn_on(core& c, actor_block* owner, task<T>&& t,
              ret<typename spawn_root<T, Result>::answer_type>&& r) {
  check_unconsumed(t.handle(), "stakker::coro::spawn");
  auto h = t.release();
  context& ctx = context::of(c);
  auto* root = recycled_new<spawn_root<T, Result>>(std::move(r));
  root->frame = h;
  h.promise().root = root;
  ctx.link(root, owner);
  c.defer(start_closure(root));
}

}  // namespace detail

// Runs `t` on `c`'s queue (its first step is queued, never run inside spawn) and delivers
// its value to `r`. If the task is dropped (a drop-mode await lost its ret or fwd, or the
// runtime went first) `r` answers "none"; so does an exception escaping the task, which
// is also reported on stderr (use spawn_result to receive it instead). An empty, finished
// or already awaited task throws std::logic_error (and `r` answers "none").
//
// `r` is answered inline where the task finishes or is dropped (ret_do runs there; ret_to
// queues): it may spawn tasks and stop actors, its own included. The answer is given where
// nothing can unwind, so an exception from it is rethrown from a closure queued on the
// runtime and leaves the current run() as a plain closure's does (outside any run, it is
// reported on stderr).
template <class T>
void spawn(core& c, task<T> t, ret<T> r) {
  detail::spawn_on<false>(c, nullptr, std::move(t), std::move(r));
}

// As above, tied to the calling actor: when that actor stops, the task is destroyed at its
// suspension point and `r` answers "none" (contract K4).
template <class A, class T>
void spawn(cx<A>& x, task<T> t, ret<T> r) {
  detail::spawn_on<false>(x.core(), stakker::detail::actor_access::block(x.this_actor()),
                          std::move(t), std::move(r));
}

// Any awaitable (another library's too): awaited inside a task made for it.
template <detail::awaitable A, class T>
void spawn(core& c, A&& aw, ret<T> r) requires(!std::is_same_v<std::remove_cvref_t<A>, task<T>>) {
  spawn(c, detail::as_task(std::forward<A>(aw)), std::move(r));
}

// Result mode: `r` gets the value, or actor_fail (with the exception, if the task threw;
// without one if the task was dropped).
template <class T>
void spawn_result(core& c, task<T> t, ret<result<T>> r) {
  detail::spawn_on<true>(c, nullptr, std::move(t), std::move(r));
}
template <class A, class T>
void spawn_result(cx<A>& x, task<T> t, ret<result<T>> r) {
  detail::spawn_on<true>(x.core(), stakker::detail::actor_access::block(x.this_actor()),
                         std::move(t), std::move(r));
}

}  // namespace stakker::coro
