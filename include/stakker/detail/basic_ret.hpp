// SPDX-License-Identifier: MIT OR Apache-2.0
// The ret<T> handle itself; its actor-targeted constructors are in <stakker/ret.hpp>.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "stakker/export.hpp"

namespace stakker {

namespace detail {

// The value a callback carries: T, or std::monostate for ret<void> / fwd<void>.
template <class T>
using value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// A capture fits a callback's one inline word when moving it bytewise is moving it.
template <class F>
inline constexpr bool fits_word = sizeof(F) <= sizeof(void*) &&
                                  alignof(F) <= alignof(void*) && std::is_trivially_copyable_v<F>;

// A callable usable as a callback taking `Arg` (and not the callback type `Self` itself).
template <class F, class Arg, class Self>
concept callback_for =
    !std::is_same_v<std::decay_t<F>, Self> && std::is_invocable_v<std::decay_t<F>&, Arg>;
// A callable taking nothing, for a callback of void (`Self` is fwd<void> or ret<void>).
template <class F, class T, class Self>
concept nullary_callback =
    std::is_void_v<T> && !std::is_same_v<std::decay_t<F>, Self> &&
    !std::is_invocable_v<std::decay_t<F>&, std::monostate> && std::is_invocable_v<std::decay_t<F>&>;

struct word {
  alignas(void*) std::byte bytes[sizeof(void*)];
  template <class P>
  P* as() noexcept {
    return std::launder(reinterpret_cast<P*>(bytes));
  }
  void* ptr() const noexcept {
    void* p;
    std::memcpy(&p, bytes, sizeof p);
    return p;
  }
  void set_ptr(const void* p) noexcept { std::memcpy(bytes, &p, sizeof p); }
};

// An exception escaped a callback that library code (or a destructor) called and could not
// let through. If a run is executing on this thread, it is rethrown from a closure queued on
// that runtime, so it leaves `run()` as an exception from a plain closure does; otherwise
// it is reported on stderr and dropped (src/runtime.cpp).
STAKKER_EXPORT void callback_threw(std::exception_ptr e) noexcept;

// Library-internal: the thunk and word of a ret made with its low-level constructor, and
// emptying one without calling it (for a ret whose word the caller has taken over).
struct ret_access;

}  // namespace detail

// A one-shot callback: called at most once with a value, and if destroyed uncalled it
// delivers "none" (an empty std::optional) to its target, so the end-point always hears
// back. Move-only; two words (a function pointer and one inline word). A capture that is
// trivially copyable and fits a pointer is stored inline; larger ones are boxed (one
// allocation). Where the target runs depends on how the ret was made: `ret_do` runs
// synchronously inside the call (or the destructor); `ret_to` and friends queue a call on
// the target actor's runtime (ordered, never inline).
template <class T>
class ret {
 public:
  using value_type = T;
  using arg_type = detail::value_t<T>;
  // fn(w, v): deliver *v (or "none" when v is null) and release the capture in w.
  using fn_type = void (*)(detail::word& w, arg_type* v);

  // An empty ret: not callable, and destroying it delivers nothing.
  ret() noexcept = default;

  // A ret that calls `f(std::optional<arg_type>)` synchronously when called or destroyed.
  template <detail::callback_for<std::optional<detail::value_t<T>>, ret> F>
  explicit ret(F&& f) {
    using fn = std::decay_t<F>;
    if constexpr (detail::fits_word<fn>) {
      ::new (static_cast<void*>(w_.bytes)) fn(std::forward<F>(f));
      fn_ = [](detail::word& w, arg_type* v) {
        fn& g = *w.as<fn>();
        v ? g(std::optional<arg_type>(std::move(*v))) : g(std::optional<arg_type>());
      };
    } else {
      w_.set_ptr(new fn(std::forward<F>(f)));
      fn_ = [](detail::word& w, arg_type* v) {
        std::unique_ptr<fn> g(static_cast<fn*>(w.ptr()));
        v ? (*g)(std::optional<arg_type>(std::move(*v))) : (*g)(std::optional<arg_type>());
      };
    }
  }

  // Low level: a thunk and its word, for library-defined targets.
  ret(fn_type fn, const void* p) noexcept : fn_(fn) { w_.set_ptr(p); }

  ret(ret&& o) noexcept : fn_(std::exchange(o.fn_, nullptr)), w_(o.w_) {}
  ret& operator=(ret&& o) noexcept {
    if (this != &o) {
      reset();
      fn_ = std::exchange(o.fn_, nullptr);
      w_ = o.w_;
    }
    return *this;
  }
  ret(const ret&) = delete;
  ret& operator=(const ret&) = delete;
  // (The check inline: most rets are destroyed moved from or already called.) GCC 12 at -O2
  // warns that fn_ may be uninitialized when a ret inside a std::optional is destroyed on a
  // path where the optional is disengaged (it never is then): silenced here, for the
  // programs built with -Werror that include this header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  ~ret() {
    if (fn_ != nullptr) reset();
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

  // Delivers the value. Calling an empty (already called, moved-from or default) ret
  // throws std::logic_error.
  // The target runs on a copy of the capture word: calling emptied this ret, so the
  // callback may re-arm or destroy it (a request object removing itself) meanwhile.
  // An exception from the callback propagates to the caller.
  void operator()(arg_type value) requires(!std::is_void_v<T>) {
    fn_type f = take();
    detail::word w = w_;
    f(w, &value);
  }
  void operator()() requires std::is_void_v<T> {
    arg_type value;
    fn_type f = take();
    detail::word w = w_;
    f(w, &value);
  }

  // True until called, moved from or reset.
  explicit operator bool() const noexcept { return fn_ != nullptr; }

  // Delivers "none" now (if not yet called) and leaves the ret empty. This is also what
  // destruction does, so it cannot throw: an exception from the callback goes to
  // detail::callback_threw (rethrown out of the current run).
  void reset() noexcept {
    if (fn_type f = std::exchange(fn_, nullptr)) {
      detail::word w = w_;
      try {
        f(w, nullptr);
      } catch (...) {
        detail::callback_threw(std::current_exception());
      }
    }
  }

 private:
  fn_type take() {
    if (fn_ == nullptr) throw std::logic_error("stakker::ret called when empty (called twice?)");
    return std::exchange(fn_, nullptr);
  }

  friend struct detail::ret_access;

  fn_type fn_ = nullptr;
  detail::word w_{};
};

static_assert(sizeof(ret<int>) == 2 * sizeof(void*), "a ret is two words");

namespace detail {
struct ret_access {
  template <class T>
  static typename ret<T>::fn_type fn(const ret<T>& r) noexcept {
    return r.fn_;
  }
  template <class T>
  static void* ptr(const ret<T>& r) noexcept {
    return r.w_.ptr();
  }
  template <class T>
  static void forget(ret<T>& r) noexcept {
    r.fn_ = nullptr;
  }
};
}  // namespace detail

namespace detail {
// Calls `r` from library code that cannot let an exception through (a coroutine's final
// step, a noexcept completion): an exception from the callback goes to callback_threw.
template <class T, class... V>
void answer_nothrow(ret<T>& r, V&&... v) noexcept {
  try {
    r(std::forward<V>(v)...);
  } catch (...) {
    callback_threw(std::current_exception());
  }
}
}  // namespace detail
static_assert(!std::is_copy_constructible_v<ret<int>>, "a ret is move-only");

// A ret that calls `f(std::optional<T>)` synchronously (std::optional<std::monostate> for
// ret<void>), with a value when called and empty when destroyed uncalled.
template <class T, class F>
ret<T> ret_do(F&& f) {
  return ret<T>(std::forward<F>(f));
}

// A ret that ignores both its value and being dropped.
template <class T>
ret<T> ret_nop() {
  return ret<T>([](std::optional<detail::value_t<T>>) {});
}

}  // namespace stakker
