// SPDX-License-Identifier: MIT OR Apache-2.0
// stream_item<T>: what a result-mode stream's next() gives: a value, a failure, or the end.
#pragma once

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "stakker/coro/result.hpp"

namespace stakker::coro {

// Thrown by stream_item::value() at the end of the stream, and by stream_item::error()
// when the item did not fail. (value() on a failed item throws bad_result_access, as
// result::value() does.)
class bad_stream_item_access : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// One read from a result-mode stream, in one of three states: a value (has_value(), true
// as a bool), a failure (failed(): the producer went before the end; error() says how),
// or the end (ended(): every later read is the end too). Named as result<T> is:
// has_value, value (checked), value_or, error, operator*, operator->, explicit operator
// bool. The common loop:
//
//   for (;;) {
//     auto item = co_await reader.next();
//     if (item.ended()) break;
//     if (item.failed()) { report(item.error()); break; }
//     use(std::move(item).value());
//   }
//
// Made by default, it is the end.
template <class T>
class stream_item {
  static_assert(!std::is_void_v<T> && !std::is_reference_v<T>,
                "stream_item<T>: a stream carries objects");

 public:
  using value_type = T;

  stream_item() noexcept = default;
  stream_item(T v) : v_(std::in_place_index<1>, std::move(v)) {}
  stream_item(actor_fail f) noexcept : v_(std::in_place_index<2>, std::move(f)) {}

  bool ended() const noexcept { return v_.index() == 0; }
  bool failed() const noexcept { return v_.index() == 2; }
  bool has_value() const noexcept { return v_.index() == 1; }
  explicit operator bool() const noexcept { return has_value(); }

  // The value; throws bad_result_access (failed) or bad_stream_item_access (ended)
  // without one. `std::move(item).value()` moves it out.
  T& value() & {
    check();
    return std::get<1>(v_);
  }
  const T& value() const& {
    check();
    return std::get<1>(v_);
  }
  T&& value() && {
    check();
    return std::move(std::get<1>(v_));
  }
  template <class U>
  T value_or(U&& other) const& {
    return has_value() ? std::get<1>(v_) : static_cast<T>(std::forward<U>(other));
  }
  template <class U>
  T value_or(U&& other) && {
    return has_value() ? std::move(std::get<1>(v_)) : static_cast<T>(std::forward<U>(other));
  }
  // Undefined without a value, as with result and std::optional.
  T& operator*() & noexcept { return *std::get_if<1>(&v_); }
  const T& operator*() const& noexcept { return *std::get_if<1>(&v_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<1>(&v_)); }
  T* operator->() noexcept { return std::get_if<1>(&v_); }
  const T* operator->() const noexcept { return std::get_if<1>(&v_); }

  // How the producer went; throws bad_stream_item_access unless failed().
  const actor_fail& error() const {
    if (!failed()) {
      throw bad_stream_item_access(ended() ? "stakker::coro::stream_item: error() at the end"
                                           : "stakker::coro::stream_item: error() on a value");
    }
    return std::get<2>(v_);
  }

 private:
  void check() const {
    if (failed()) throw bad_result_access(std::get<2>(v_));
    if (ended()) throw bad_stream_item_access("stakker::coro::stream_item: value() at the end");
  }
  std::variant<std::monostate, T, actor_fail> v_;
};

}  // namespace stakker::coro
