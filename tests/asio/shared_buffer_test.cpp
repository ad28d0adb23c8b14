// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/asio/shared_buffer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "asio/asio_support.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/stakker.hpp"

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::asio::shared_buffer;
using stakker::asio::use_task;
using stakker::coro::task;

struct SharedBufferTest : asio_test::io_loop_test {
  net::local::stream_protocol::socket a{ioc}, b{ioc};
  SharedBufferTest() { net::local::connect_pair(a, b); }
};

TEST_F(SharedBufferTest, reads_lines_like_asios_own_dynamic_buffer) {
  auto text = std::make_shared<std::string>();
  net::write(b, net::buffer(std::string("first\nsecond\n")));
  std::vector<std::string> lines;
  auto body = [&]() -> task<void> {
    for (int i = 0; i < 2; ++i) {
      std::size_t n = co_await net::async_read_until(a, shared_buffer(text), '\n', use_task);
      lines.push_back(text->substr(0, n - 1));
      text->erase(0, n);
    }
  };
  stakker::coro::spawn(rt, body(), stakker::ret_nop<void>());
  ioc.run_for(1s);
  EXPECT_EQ(lines, (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(text->empty());
}

TEST_F(SharedBufferTest, refuses_to_grow_beyond_its_max_size) {
  auto text = std::make_shared<std::vector<char>>();
  net::write(b, net::buffer(std::string("far too long a line\n")));
  asio_test::answer<bool> got;
  auto body = [&]() -> task<bool> {
    auto [ec, n] = co_await net::async_read_until(a, shared_buffer(text, 8), '\n',
                                                  asio_test::as_tuple(use_task));
    co_return ec == net::error::not_found&& n == 0;
  };
  stakker::coro::spawn(rt, body(), got.to());
  ioc.run_for(1s);
  ASSERT_TRUE(got.once_with_value());
  EXPECT_TRUE(*got.value);
}

// Holds the container in its state, as a connection actor would.
struct line_waiter {
  std::shared_ptr<std::string> text = std::make_shared<std::string>();
  static line_waiter init(stakker::cx<line_waiter>& cx, net::local::stream_protocol::socket* s,
                          std::weak_ptr<std::string>* watch) {
    line_waiter w;
    *watch = w.text;
    stakker::coro::spawn(cx, read_line(s, w.text), stakker::ret_nop<void>());
    return w;
  }
  static task<void> read_line(net::local::stream_protocol::socket* s,
                              std::shared_ptr<std::string> text) {
    co_await net::async_read_until(*s, shared_buffer(std::move(text)), '\n', use_task);
  }
  void stop(stakker::cx<line_waiter>& cx) { cx.stop(); }
};

TEST_F(SharedBufferTest, keeps_its_container_until_an_abandoned_read_until_has_finished) {
  std::weak_ptr<std::string> watch;
  auto w = stakker::make_actor<&line_waiter::init>(rt, stakker::ret_nop<stakker::stop_cause>(), &a,
                                                   &watch);
  net::write(b, net::buffer(std::string("no end of line yet")));
  loop.request_run();
  ioc.run_for(20ms);  // the read has taken the bytes and waits for more
  ioc.restart();
  stakker::call<&line_waiter::stop>(w);
  loop.request_run();
  ioc.run_for(1s);  // the cancelled read's last step resizes the container (ASan: no misuse)
  EXPECT_TRUE(watch.expired());  // and then lets it go
}

}  // namespace
