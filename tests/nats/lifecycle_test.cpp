// SPDX-License-Identifier: MIT OR Apache-2.0
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "nats/support.hpp"

namespace {

using namespace nats_test;
using stakker::fwd_do;
using stakker::ret_do;
using stakker::coro::result;
using stakker::nats::options;

TEST(nats_auth, a_right_token_is_accepted) {
  server s({"--auth", "s3cret"});
  env e;
  watch w;
  options o;
  o.servers = {s.url()};
  o.token = "s3cret";
  auto c = e.connect(w, o);
  ASSERT_TRUE(w.ready && w.ready->has_value());
  EXPECT_TRUE(c->is_connected());
}

TEST(nats_auth, a_wrong_token_fails_ready_with_the_servers_reason_and_closes) {
  server s({"--auth", "s3cret"});
  env e;
  watch w;
  options o;
  o.servers = {s.url()};
  o.token = "guess";
  auto c = e.connect(w, o);
  ASSERT_TRUE(w.ready);
  ASSERT_FALSE(w.ready->has_value());
  auto* err = nats_error(w.ready->error());
  ASSERT_NE(err, nullptr);
  EXPECT_NE(std::string(err->what()).find("uthorization"), std::string::npos) << err->what();
  EXPECT_TRUE(c->is_closed());
  EXPECT_TRUE(w.has(event::kind::closed));
}

TEST(nats_drain, nothing_published_before_drain_is_lost) {
  server s;
  env e;
  watch wp, ws;
  auto pub = e.connect(wp, s);
  auto sub_conn = e.connect(ws, s);
  constexpr int n = 20000;
  std::vector<int> got;
  auto sub = sub_conn->subscribe("drained", fwd_do<message>([&](message m) {
                                   got.push_back(std::stoi(std::string(m.data())));
                                 }));
  // The subscription must have reached the server before the publishes.
  std::optional<result<message>> ping;
  auto echo = sub_conn->subscribe(
      "ping", fwd_do<message>([&](message m) { sub_conn->publish(m.reply(), "pong"); }));
  pub->request("ping", "", 5s, ret_do<result<message>>([&](std::optional<result<message>> r) {
                 ping = std::move(r);
               }));
  ASSERT_TRUE(e.until([&] { return ping.has_value(); }));
  for (int i = 0; i < n; ++i) pub->publish("drained", std::to_string(i));
  std::optional<result<void>> pub_done;
  pub->drain(10s,
             ret_do<result<void>>([&](std::optional<result<void>> r) { pub_done = std::move(r); }));
  ASSERT_TRUE(e.until([&] { return pub_done.has_value(); }));
  EXPECT_TRUE(pub_done->has_value());
  EXPECT_TRUE(wp.has(event::kind::closed));
  // The subscriber drains too: what reached it before is delivered before its close.
  std::size_t at_close = 0;
  std::optional<result<void>> sub_done;
  sub_conn->drain(10s, ret_do<result<void>>([&](std::optional<result<void>> r) {
                    at_close = got.size();
                    sub_done = std::move(r);
                  }));
  ASSERT_TRUE(e.until([&] { return sub_done.has_value(); }));
  EXPECT_TRUE(sub_done->has_value());
  EXPECT_EQ(at_close, static_cast<std::size_t>(n));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST(nats_reconnect,
     a_server_killed_and_restarted_mid_stream_reconnects_and_every_ret_is_answered) {
  server s;
  env e;
  watch w;
  options o;
  o.servers = {s.url()};
  o.reconnect_wait = 50ms;
  o.max_reconnect = -1;
  auto c = e.connect(w, o);
  ASSERT_TRUE(w.ready && w.ready->has_value());
  int ticks = 0;
  auto sub = c->subscribe("tick", fwd_do<message>([&](message) { ++ticks; }));
  auto svc = c->subscribe("svc", fwd_do<message>([&](message m) { c->publish(m.reply(), "ok"); }));
  std::vector<std::optional<result<message>>> answers(300);
  std::size_t next = 0;
  auto send_some = [&](std::size_t k) {
    for (std::size_t i = 0; i < k && next < answers.size(); ++i, ++next) {
      auto* slot = &answers[next];
      try {
        c->request("svc", "?", 2s,
                   ret_do<result<message>>([slot](std::optional<result<message>> r) {
                     ASSERT_TRUE(r.has_value());
                     *slot = std::move(r);
                   }));
        c->publish("tick", "t");
      } catch (const stakker::nats::error& err) {
        ADD_FAILURE() << "a call refused while reconnecting: " << err.what();
      }
    }
  };
  send_some(100);
  ASSERT_TRUE(e.until([&] { return ticks >= 100; }));
  s.kill();
  ASSERT_TRUE(e.until([&] { return w.has(event::kind::disconnected); }));
  send_some(100);  // while disconnected: buffered, answered (a reply or a timeout)
  s.start();
  ASSERT_TRUE(e.until([&] { return w.has(event::kind::reconnected); }, 15000ms));
  send_some(100);
  ASSERT_TRUE(e.until(
      [&] {
        for (auto& a : answers)
          if (!a) return false;
        return true;
      },
      20000ms));
  // Everything sent after the reconnect is answered with the reply.
  for (std::size_t i = 200; i < 300; ++i) EXPECT_TRUE(answers[i]->has_value()) << i;
  int ticks_now = ticks;
  c->publish("tick", "t");
  ASSERT_TRUE(e.until([&] { return ticks > ticks_now; }));
  EXPECT_FALSE(w.has(event::kind::closed));
}

TEST(nats_reconnect, a_server_gone_for_good_ends_in_closed_and_pending_requests_fail) {
  server s;
  env e;
  watch w;
  options o;
  o.servers = {s.url()};
  o.reconnect_wait = 20ms;
  o.max_reconnect = 2;
  auto c = e.connect(w, o);
  auto svc = c->subscribe("mute", fwd_do<message>([](message) {}));
  std::optional<result<message>> a;
  c->request("mute", "?", 60s,
             ret_do<result<message>>([&](std::optional<result<message>> r) { a = std::move(r); }));
  s.kill();
  ASSERT_TRUE(e.until([&] { return w.has(event::kind::closed); }, 15000ms));
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(a->has_value());
  EXPECT_EQ(nats_error(a->error())->status(), NATS_CONNECTION_CLOSED);
  EXPECT_THROW(c->publish("x", "y"), stakker::nats::error);
}

}  // namespace
