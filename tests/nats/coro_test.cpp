// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/nats/coro.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "nats/support.hpp"
#include "stakker/coro/sleep.hpp"
#include "stakker/coro/spawn.hpp"

namespace {

using namespace nats_test;
using stakker::fwd_do;
using stakker::ret_do;
using stakker::coro::result;
using stakker::coro::task;

TEST(nats_coro, a_task_awaits_a_request_and_gets_the_reply) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto svc =
      c->subscribe("echo", fwd_do<message>([&](message m) { c->publish(m.reply(), m.data()); }));
  auto body = [](connection& conn) -> task<std::string> {
    message a = co_await stakker::nats::request(conn, "echo", "one", 5s);
    message b = co_await stakker::nats::request(conn, "echo", "two", 5s);
    co_return std::string(a.data()) + "+" + std::string(b.data());
  };
  std::optional<std::string> got;
  stakker::coro::spawn(e.rt, body(*c),
                       ret_do<std::string>([&](std::optional<std::string> v) { got = v; }));
  ASSERT_TRUE(e.until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, "one+two");
}

TEST(nats_coro, a_failed_request_throws_its_nats_error_into_the_task) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto body = [](connection& conn) -> task<int> {
    try {
      co_await stakker::nats::request(conn, "nobody", "?", 5s);
    } catch (const stakker::nats::error& err) {
      co_return static_cast<int>(err.status());
    }
    co_return -1;
  };
  std::optional<int> got;
  stakker::coro::spawn(e.rt, body(*c), ret_do<int>([&](std::optional<int> v) { got = v; }));
  ASSERT_TRUE(e.until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, static_cast<int>(NATS_NO_RESPONDERS));
}

TEST(nats_coro, result_mode_gives_the_failure_as_a_value) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto mute = c->subscribe("mute", fwd_do<message>([](message) {}));
  auto body = [](connection& conn) -> task<int> {
    result<message> r = co_await stakker::nats::request_result(conn, "mute", "?", 100ms);
    co_return r.has_value() ? 0 : static_cast<int>(nats_error(r.error())->status());
  };
  std::optional<int> got;
  stakker::coro::spawn(e.rt, body(*c), ret_do<int>([&](std::optional<int> v) { got = v; }));
  ASSERT_TRUE(e.until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, static_cast<int>(NATS_TIMEOUT));
}

TEST(nats_coro, a_subscription_read_as_a_stream_gives_the_messages_in_order) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto body = [](connection& conn, int n) -> task<std::vector<std::string>> {
    auto st = stakker::nats::subscribe_stream(conn, "feed");
    // The subscription must reach the server before the publishes: a request after it does.
    try {
      co_await stakker::nats::request(conn, "_sync.nobody", "", 5s);
    } catch (const stakker::nats::error&) {
    }
    for (int i = 0; i < n; ++i) conn.publish("feed", std::to_string(i));
    std::vector<std::string> out;
    while (static_cast<int>(out.size()) < n) {
      std::optional<message> m = co_await st.next();
      if (!m) break;
      out.emplace_back(m->data());
    }
    co_return out;
  };
  std::optional<std::vector<std::string>> got;
  stakker::coro::spawn(e.rt, body(*c, 300),
                       ret_do<std::vector<std::string>>(
                           [&](std::optional<std::vector<std::string>> v) { got = std::move(v); }));
  ASSERT_TRUE(e.until([&] { return got.has_value(); }));
  ASSERT_EQ(got->size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ((*got)[static_cast<std::size_t>(i)], std::to_string(i));
}

TEST(nats_coro, a_subscription_read_as_a_generator_gives_the_messages_in_order) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  // The generator subscribes when first resumed: a probe is published until it arrives,
  // then the numbered messages.
  bool subscribed = false;
  auto publisher = [](connection& conn, bool& ready, int n) -> task<void> {
    while (!ready) {
      conn.publish("gen", "probe");
      co_await stakker::coro::sleep_for(conn.runtime_core(), 10ms);
    }
    for (int i = 0; i < n; ++i) conn.publish("gen", std::to_string(i));
  };
  auto reader = [](connection& conn, bool& ready, int n) -> task<std::vector<std::string>> {
    auto gen = stakker::nats::subscribe_generator(conn, "gen");
    std::vector<std::string> out;
    while (static_cast<int>(out.size()) < n) {
      std::optional<message> m = co_await gen.next();
      if (!m) break;
      if (m->data() == "probe") {
        ready = true;
        continue;
      }
      out.emplace_back(m->data());
    }
    co_return out;
  };
  std::optional<std::vector<std::string>> got;
  stakker::coro::spawn(e.rt, reader(*c, subscribed, 50),
                       ret_do<std::vector<std::string>>(
                           [&](std::optional<std::vector<std::string>> v) { got = std::move(v); }));
  stakker::coro::spawn(e.rt, publisher(*c, subscribed, 50), stakker::ret_nop<void>());
  ASSERT_TRUE(e.until([&] { return got.has_value(); }));
  ASSERT_EQ(got->size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ((*got)[static_cast<std::size_t>(i)], std::to_string(i));
}

}  // namespace
