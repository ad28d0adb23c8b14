// SPDX-License-Identifier: MIT OR Apache-2.0
// Shared by the Asio bridge's tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
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

// A runtime driven by an io_context through io_loop, for tests that run the io_context.
struct io_loop_test : ::testing::Test {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop{ioc, rt};

  // Runs the io_context until it has no more work, for at most `limit`; returns the time it
  // took (a pending operation that is not cancelled keeps it busy up to `limit`).
  std::chrono::steady_clock::duration run_until_out_of_work(
      std::chrono::seconds limit = std::chrono::seconds(5)) {
    auto start = std::chrono::steady_clock::now();
    ioc.run_for(limit);
    ioc.restart();
    return std::chrono::steady_clock::now() - start;
  }
};

}  // namespace asio_test
