// SPDX-License-Identifier: MIT OR Apache-2.0
#include <gtest/gtest.h>

#include <chrono>

#include "asio/asio_support.hpp"

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;

TEST(AsioSmoke, a_timer_completion_reaches_a_ret_on_the_runtime_queue) {
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  asio_test::answer<stakker::asio::error_code> got;
  bool on_queue = false;
  net::steady_timer t(ioc, 1ms);
  t.async_wait(stakker::asio::use_ret(rt, stakker::ret_do<stakker::asio::error_code>(
                                              [&](std::optional<stakker::asio::error_code> v) {
                                                on_queue = stakker::detail::running_core == &rt;
                                                got.record(std::move(v));
                                              })));
  ioc.run_for(1s);
  EXPECT_TRUE(got.once_with_value());
  EXPECT_FALSE(*got.value);
  EXPECT_TRUE(on_queue);
}

}  // namespace
