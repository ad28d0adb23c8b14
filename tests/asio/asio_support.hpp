// Shared by the Asio bridge's tests.
#pragma once

#include <optional>
#include <utility>

#include "stakker/asio/asio.hpp"
#if defined(STAKKER_ASIO_USE_BOOST)
#include <boost/asio/experimental/as_tuple.hpp>
#else
#include <asio/experimental/as_tuple.hpp>
#endif
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"

namespace asio_test {

namespace net = stakker::asio::net;
using net::experimental::as_tuple;

// Records what a ret<T> delivered, and how many times.
template <class T>
struct answer {
  using value_type = stakker::detail::value_t<T>;
  int calls = 0;
  std::optional<value_type> value;

  void record(std::optional<value_type> v) {
    ++calls;
    value = std::move(v);
  }
  stakker::ret<T> to() {
    return stakker::ret_do<T>([this](std::optional<value_type> v) { record(std::move(v)); });
  }
  bool once_with_value() const { return calls == 1 && value.has_value(); }
  bool once_none() const { return calls == 1 && !value.has_value(); }
};

}  // namespace asio_test
