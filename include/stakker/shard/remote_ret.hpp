// SPDX-License-Identifier: MIT OR Apache-2.0
// remote_ret<T>, remote_fwd<T>: a ret or fwd made on one runtime, answered from any thread,
// delivered on the runtime that made it (contract S3).
#pragma once

#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "stakker/detail/inbox.hpp"
#include "stakker/fwd.hpp"
#include "stakker/ret.hpp"

namespace stakker::shard {

namespace detail {

using stakker::detail::inbox;
using stakker::detail::running_core;
using stakker::detail::value_t;

// The runtime whose run is executing on this thread; throws outside a run.
inline core& running_core_or_throw(const char* what) {
  if (running_core == nullptr) throw std::logic_error(what);
  return *running_core;
}

// Keeps a ret or fwd on the runtime that made it, for handles on other threads.
template <class Callback>
struct callback_pin final : inbox::home_pin {
  Callback cb;
  callback_pin(inbox& box, Callback c) : home_pin(box), cb(std::move(c)) {}
  void release_on_home() noexcept override { Callback dropped = std::move(cb); }
};

}  // namespace detail

// A ret<T> that crossed to another runtime. Move-only. Answering it (from any thread)
// delivers the value to the original ret on the runtime that made it, in a later run of
// that runtime; destroying it unanswered (anywhere), or the runtime it went to shutting
// down with it, makes the original answer "none" there. If the original's runtime is gone,
// the answer is destroyed. Made by make_remote(std::move(r)) on the ret's runtime.
template <class T>
class remote_ret {
 public:
  using value_type = T;
  using arg_type = detail::value_t<T>;

  remote_ret() noexcept = default;
  remote_ret(remote_ret&& o) noexcept : pin_(std::exchange(o.pin_, nullptr)) {}
  remote_ret& operator=(remote_ret o) noexcept {
    std::swap(pin_, o.pin_);
    return *this;
  }
  ~remote_ret() { reset(); }

  // Any thread: answers with `value` (once; the handle is empty afterwards).
  void operator()(arg_type value) requires(!std::is_void_v<T>) { answer(std::move(value)); }
  void operator()() requires std::is_void_v<T> { answer(arg_type{}); }

  // Any thread: gives up without answering (the original answers "none").
  void reset() noexcept {
    if (pin_ != nullptr) std::exchange(pin_, nullptr)->drop_handle();
  }
  explicit operator bool() const noexcept { return pin_ != nullptr; }

  // Library-internal (see make_remote).
  using pin_type = detail::callback_pin<ret<T>>;
  explicit remote_ret(pin_type* p) noexcept : pin_(p) {}

 private:
  void answer(arg_type value) {
    if (pin_ == nullptr) throw std::logic_error("stakker::remote_ret: answered twice or empty");
    pin_type* p = std::exchange(pin_, nullptr);
    // The item owns the handle: run on the origin it answers, then lets go of the pin.
    struct item {
      pin_type* p;
      arg_type v;
      item(pin_type* x, arg_type&& y) : p(x), v(std::move(y)) {}
      item(item&& o) noexcept : p(std::exchange(o.p, nullptr)), v(std::move(o.v)) {}
      ~item() {
        if (p != nullptr) p->drop_handle();
      }
      void operator()() {
        ret<T> r = std::move(p->cb);  // empty if the origin already let it go
        if (r) {
          if constexpr (std::is_void_v<T>)
            r();
          else
            r(std::move(v));
        }
      }
    };
    p->box().post(item(p, std::move(value)));
  }

  pin_type* pin_ = nullptr;
};

// A fwd<T> that crossed to another runtime. Copyable. Each call (from any thread) delivers
// to the original fwd on the runtime that made it, in a later run there, in the order sent
// from each thread; calls made after that runtime is gone are destroyed.
template <class T>
class remote_fwd {
 public:
  using value_type = T;
  using arg_type = detail::value_t<T>;
  using pin_type = detail::callback_pin<fwd<T>>;

  remote_fwd() noexcept = default;
  remote_fwd(const remote_fwd& o) noexcept : pin_(o.pin_) {
    if (pin_ != nullptr) pin_->add_handle();
  }
  remote_fwd(remote_fwd&& o) noexcept : pin_(std::exchange(o.pin_, nullptr)) {}
  remote_fwd& operator=(remote_fwd o) noexcept {
    std::swap(pin_, o.pin_);
    return *this;
  }
  ~remote_fwd() {
    if (pin_ != nullptr) pin_->drop_handle();
  }

  // Any thread.
  void operator()(arg_type value) const requires(!std::is_void_v<T>) { send(std::move(value)); }
  void operator()() const requires std::is_void_v<T> { send(arg_type{}); }
  explicit operator bool() const noexcept { return pin_ != nullptr; }

  // Library-internal (see make_remote).
  explicit remote_fwd(pin_type* p) noexcept : pin_(p) {}

 private:
  void send(arg_type value) const {
    if (pin_ == nullptr) throw std::logic_error("stakker::remote_fwd: called while empty");
    // Counted as sent, like a call through a remote (see inbox::home_pin).
    struct item {
      pin_type* p;
      arg_type v;
      item(pin_type* x, arg_type&& y) : p(x), v(std::move(y)) { p->item_sent(); }
      item(item&& o) noexcept : p(o.p), v(std::move(o.v)) {}
      void operator()() {
        struct ran {
          pin_type* p;
          ~ran() { p->item_ran(); }
        } guard{p};
        if (p->cb) {
          if constexpr (std::is_void_v<T>)
            p->cb();
          else
            p->cb(std::move(v));
        }
      }
    };
    pin_->box().post(item(pin_, std::move(value)));
  }

  pin_type* pin_ = nullptr;
};

// On the runtime that runs `r` (inside its run): a remote_ret for handing `r` to another
// runtime. Throws std::logic_error outside a run.
template <class T>
remote_ret<T> make_remote(ret<T> r) {
  core& c = detail::running_core_or_throw(
      "stakker::make_remote(ret): call it inside a run of the ret's runtime");
  using P = typename remote_ret<T>::pin_type;
  return remote_ret<T>(new P(*detail::inbox::of(c), std::move(r)));
}

// On the runtime that runs `f` (inside its run): a remote_fwd for handing `f` to other
// runtimes. Throws std::logic_error outside a run.
template <class T>
remote_fwd<T> make_remote(fwd<T> f) {
  core& c = detail::running_core_or_throw(
      "stakker::make_remote(fwd): call it inside a run of the fwd's runtime");
  using P = typename remote_fwd<T>::pin_type;
  return remote_fwd<T>(new P(*detail::inbox::of(c), std::move(f)));
}

// On any runtime's thread: a plain ret<T> whose answer goes to `r`'s origin (dropped
// unanswered, `r`'s origin answers "none"). For library calls that take a ret, such as
// coro::spawn on one shard answering a task's result on another.
template <class T>
ret<T> as_ret(remote_ret<T> r) {
  return ret<T>([rr = std::move(r)](std::optional<detail::value_t<T>> v) mutable {
    if (!v) return;  // rr goes unanswered: its origin answers "none"
    if constexpr (std::is_void_v<T>)
      rr();
    else
      rr(std::move(*v));
  });
}

// On any runtime's thread: a plain fwd<T> that forwards each value to `f`'s origin.
template <class T>
fwd<T> as_fwd(remote_fwd<T> f) {
  return fwd_do<T>([rf = std::move(f)](detail::value_t<T> v) {
    if constexpr (std::is_void_v<T>)
      rf();
    else
      rf(std::move(v));
  });
}

}  // namespace stakker::shard
