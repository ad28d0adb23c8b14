// SPDX-License-Identifier: MIT OR Apache-2.0
// Shared by the coroutine bridge's tests.
#pragma once

#include <optional>
#include <utility>

#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"

namespace coro_test {

// One run of the queues at the runtime's current time.
inline void run(stakker::runtime& rt) { rt.run(rt.now(), false); }

// Records what a ret<T> (from `to()`) delivered, and how many times.
template <class T>
struct answer {
  using value_type = stakker::detail::value_t<T>;
  int calls = 0;
  std::optional<value_type> value;

  stakker::ret<T> to() {
    return stakker::ret_do<T>([this](std::optional<value_type> v) {
      ++calls;
      value = std::move(v);
    });
  }
  bool once_with_value() const { return calls == 1 && value.has_value(); }
  bool once_none() const { return calls == 1 && !value.has_value(); }
};

}  // namespace coro_test
