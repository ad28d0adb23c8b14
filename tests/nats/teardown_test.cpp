// SPDX-License-Identifier: MIT OR Apache-2.0
// User code run by the connection (fwd, ret, event callbacks) may destroy the connection.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "nats/support.hpp"

namespace {

using namespace nats_test;
using stakker::fwd_do;
using stakker::ret_do;
using stakker::coro::result;
using stakker::nats::options;

TEST(nats_teardown, a_subscriber_may_destroy_the_connection_from_its_callback) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  int n = 0;
  auto sub = c->subscribe("bye", fwd_do<message>([&](message) {
                            ++n;
                            c.reset();
                          }));
  for (int i = 0; i < 50; ++i) c->publish("bye", "x");
  ASSERT_TRUE(e.until([&] { return n == 1; }));
  e.until([] { return false; }, 100ms);
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(sub);
}

TEST(nats_teardown, ready_may_destroy_the_connection) {
  server s;
  env e;
  std::shared_ptr<connection> c;
  int events = 0;
  bool answered = false;
  options o;
  o.servers = {s.url()};
  c = connection::connect(e.rt, o, fwd_do<event>([&](event) { ++events; }),
                          ret_do<result<void>>([&](std::optional<result<void>>) {
                            answered = true;
                            c.reset();
                          }));
  ASSERT_TRUE(e.until([&] { return answered; }));
  e.until([] { return false; }, 50ms);
  EXPECT_EQ(events, 0);  // the connection went before its connected event
}

TEST(nats_teardown, the_closed_event_may_destroy_the_connection) {
  server s;
  env e;
  std::shared_ptr<connection> c;
  bool closed = false;
  options o;
  o.servers = {s.url()};
  c = connection::connect(e.rt, o, fwd_do<event>([&](event ev) {
                            if (ev.what == event::kind::closed) {
                              closed = true;
                              c.reset();
                            }
                          }));
  ASSERT_TRUE(e.until([&] { return c->is_connected(); }));
  c->close();
  ASSERT_TRUE(e.until([&] { return closed; }));
  EXPECT_EQ(c, nullptr);
}

TEST(nats_teardown, a_request_answer_may_destroy_the_connection_and_the_others_are_still_answered) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto mute = c->subscribe("mute", fwd_do<message>([](message) {}));
  int answered = 0;
  for (int i = 0; i < 3; ++i)
    c->request("mute", "?", 30s, ret_do<result<message>>([&](std::optional<result<message>> r) {
                 ASSERT_TRUE(r.has_value());
                 EXPECT_FALSE(r->has_value());
                 ++answered;
                 c.reset();
               }));
  c->close();
  ASSERT_TRUE(e.until([&] { return answered == 3; }));
}

TEST(nats_teardown, a_connection_destroyed_while_connecting_leaves_nothing_behind) {
  server s;
  env e;
  bool answered = false;
  options o;
  o.servers = {s.url()};
  auto c = connection::connect(e.rt, o, fwd_do<event>([](event) {}),
                               ret_do<result<void>>([&](std::optional<result<void>> r) {
                                 answered = true;
                                 ASSERT_TRUE(r.has_value());
                                 EXPECT_FALSE(r->has_value());
                               }));
  c.reset();  // the connect thread may still be at work: joined, its result destroyed
  EXPECT_TRUE(answered);
  e.until([] { return false; }, 50ms);
}

TEST(nats_teardown, the_runtime_may_go_with_the_connection_still_held_by_an_actor_state) {
  server s;
  std::shared_ptr<connection> c;
  {
    env e;
    watch w;
    c = e.connect(w, s);
    auto sub = c->subscribe("x", fwd_do<message>([](message) {}));
    c->publish("x", "y");
    c.reset();  // before the loop and runtime go: the supported order
  }
  SUCCEED();
}

}  // namespace
