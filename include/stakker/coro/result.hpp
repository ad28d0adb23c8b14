// SPDX-License-Identifier: MIT OR Apache-2.0
// result<T>: a value, or the actor_fail that came instead (the bridge's "result mode").
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "stakker/coro/export.hpp"

namespace stakker::coro {

// The other side went away without answering: the ret or last fwd feeding an await was
// destroyed unanswered (its actor failed or dropped it), or, for spawn_result, the task
// was dropped or threw (then `exception` holds what it threw).
struct STAKKER_CORO_EXPORT actor_fail {
  std::exception_ptr exception;

  std::string what() const;
  friend bool operator==(const actor_fail& a, const actor_fail& b) noexcept {
    return a.exception == b.exception;
  }
};

// Thrown by result::value() when it holds an actor_fail.
class STAKKER_CORO_EXPORT bad_result_access : public std::logic_error {
 public:
  explicit bad_result_access(const actor_fail& f)
      : std::logic_error("stakker::coro::result: no value (" + f.what() + ")"), fail_(f) {}
  const actor_fail& error() const noexcept { return fail_; }

 private:
  actor_fail fail_;
};

// Shaped like std::expected<T, actor_fail>: has_value, value (throws bad_result_access),
// error, operator*, operator->, explicit operator bool. `result<void>` holds no value.
template <class T>
class result {
 public:
  using value_type = T;

  result(T v) : v_(std::in_place_index<0>, std::move(v)) {}
  result(actor_fail f) : v_(std::in_place_index<1>, std::move(f)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::move(std::get<0>(v_));
  }
  template <class U>
  T value_or(U&& other) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(other));
  }
  // Undefined without a value, as with std::expected (debug builds assert in the variant).
  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&v_)); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }

  // Undefined with a value.
  const actor_fail& error() const noexcept { return *std::get_if<1>(&v_); }

 private:
  void check() const {
    if (!has_value()) throw bad_result_access(std::get<1>(v_));
  }
  std::variant<T, actor_fail> v_;
};

template <>
class result<void> {
 public:
  using value_type = void;

  result() noexcept = default;
  result(actor_fail f) : fail_(std::move(f)), failed_(true) {}

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (failed_) throw bad_result_access(fail_);
  }
  void operator*() const noexcept {}
  const actor_fail& error() const noexcept { return fail_; }

 private:
  actor_fail fail_;
  bool failed_ = false;
};

}  // namespace stakker::coro
