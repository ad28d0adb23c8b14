// SPDX-License-Identifier: MIT OR Apache-2.0
// foreign_awaiter: awaiting another library's awaitable from a task, which may complete it
// on any thread; the task still resumes on the runtime thread (contract K5).
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "stakker/coro/detail/context.hpp"
#include "stakker/coro/detail/recycler.hpp"
#include "stakker/coro/export.hpp"
#include "stakker/detail/inbox.hpp"

namespace stakker::coro::detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else if constexpr (requires { operator co_await(std::forward<A>(a)); }) {
    return operator co_await(std::forward<A>(a));
  } else {
    return std::forward<A>(a);
  }
}

// Shared by the awaiting frame (runtime thread) and the trampoline the foreign awaitable
// resumes (any thread). Only the count crosses threads (atomic); the trampoline's
// resumption posts a closure to the runtime's inbox, which reads `abandoned` and `wake` on
// the runtime thread, where the awaiter sets them.
struct cross_node {
  std::atomic<int> refs{2};
  bool abandoned = false;  // runtime thread only: the awaiter has gone
  std::shared_ptr<stakker::detail::inbox> box;
  wake_node* wake;  // only read on the runtime thread, and only while !abandoned

  cross_node(std::shared_ptr<stakker::detail::inbox> b, wake_node* w) noexcept
      : box(std::move(b)), wake(w) {}
};

inline void release(cross_node* n) noexcept {
  if (n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) recycled_delete(n);
}

// Any thread: hands the node to the runtime thread through its inbox, where the node's wake
// is scheduled unless its awaiter has gone; the node is released there, or here if the
// runtime has gone.
STAKKER_CORO_EXPORT void post(cross_node* n) noexcept;

// A coroutine frame given to the foreign awaitable as "the handle to resume". Resuming it,
// on whatever thread, posts its node; the frame destroys itself at its final suspend.
struct trampoline {
  struct promise_type {
    cross_node* node;
    explicit promise_type(cross_node* n) noexcept : node(n) {}
    static void* operator new(std::size_t n) { return recycler::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { recycler::deallocate(p, n); }
    trampoline get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct finish {
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> self) const noexcept {
        cross_node* n = self.promise().node;
        self.destroy();  // nothing touches the frame after this
        post(n);
      }
      void await_resume() const noexcept {}
    };
    finish final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> h;
};

inline trampoline make_trampoline(cross_node*) { co_return; }

template <class A>
class foreign_awaiter {
 public:
  using stakker_awaitable = void;

  explicit foreign_awaiter(A&& a) : aw_(std::forward<A>(a)), inner_(make_inner()) {}
  foreign_awaiter(const foreign_awaiter&) = delete;
  foreign_awaiter& operator=(const foreign_awaiter&) = delete;
  ~foreign_awaiter() {
    if (cross_ != nullptr) {
      cross_->abandoned = true;  // read by the posted closure, on this thread too
      release(cross_);
    }
    disarm(wake_);
  }

  bool await_ready() { return inner_.await_ready(); }

  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    core* c = &running_core_or_throw(
        "stakker::coro: a foreign awaitable was awaited outside a runtime's run");
    context& ctx = context::of(*c);
    wake_ = recycled_new<plain_wake_node>(*c);
    wake_->handle = h;
    if constexpr (std::is_base_of_v<promise_base, P>) set_root(wake_, h.promise().root);
    cross_ = recycled_new<cross_node>(ctx.cross(), wake_);
    trampoline t = make_trampoline(cross_);
    // When the foreign awaitable does not keep the handle (it resumes at once, or throws),
    // the trampoline is never resumed: destroy it and give up its reference here.
    auto unused = [&]() noexcept {
      t.h.destroy();
      release(cross_);
      wake_->handle = {};
    };
    using R = decltype(inner_.await_suspend(t.h));
    try {
      if constexpr (std::is_void_v<R>) {
        inner_.await_suspend(t.h);
        return std::noop_coroutine();
      } else if constexpr (std::is_same_v<R, bool>) {
        if (inner_.await_suspend(t.h)) return std::noop_coroutine();
        unused();
        // Resumes at once, but bounded like any transfer (K2): a long run of such awaits
        // would otherwise nest one resumption per await on the stack (g++ below -O2, ASan).
        if constexpr (std::is_base_of_v<promise_base, P>) {
          return transfer(h, &h.promise(), h.promise().root);
        } else {
          return h;
        }
      } else {
        return inner_.await_suspend(t.h);
      }
    } catch (...) {
      unused();  // the exception resumes the awaiting frame at once
      throw;
    }
  }

  decltype(auto) await_resume() { return inner_.await_resume(); }

 private:
  // The awaitable as it was given: an lvalue stays one, an rvalue is awaited as one.
  using arg_type = std::conditional_t<std::is_reference_v<A>, A, std::remove_cv_t<A>&&>;
  arg_type fwd_aw() noexcept { return static_cast<arg_type>(aw_); }
  using inner_type = decltype(get_awaiter(std::declval<arg_type>()));

  std::conditional_t<std::is_reference_v<A>, A, std::remove_cv_t<A>> aw_;
  // An awaitable that is its own awaiter is used in place.
  using inner_stored = std::conditional_t<std::is_reference_v<inner_type>,
                                          std::remove_reference_t<inner_type>&, inner_type>;
  inner_stored make_inner() {
    if constexpr (std::is_reference_v<inner_type>) {
      auto&& ref = get_awaiter(fwd_aw());
      return ref;
    } else {
      return get_awaiter(fwd_aw());
    }
  }
  inner_stored inner_;
  wake_node* wake_ = nullptr;
  cross_node* cross_ = nullptr;
};

}  // namespace stakker::coro::detail
