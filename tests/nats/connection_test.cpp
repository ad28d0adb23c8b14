// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/nats/connection.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nats/support.hpp"

namespace {

using namespace nats_test;
using stakker::fwd_do;
using stakker::nats::headers;
using stakker::nats::options;

TEST(nats_connection, connects_and_reports_connected_then_closed_once) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  ASSERT_TRUE(c->is_connected());
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].what, event::kind::connected);
  EXPECT_NE(w.events[0].text.find(std::to_string(s.port())), std::string::npos);
  c->close();
  ASSERT_TRUE(e.until([&] { return w.has(event::kind::closed); }));
  EXPECT_EQ(w.count(event::kind::closed), 1u);
  EXPECT_TRUE(c->is_closed());
}

TEST(nats_connection, an_unreachable_server_fails_ready_with_a_clear_error_never_hangs) {
  env e;
  watch w;
  options o;
  o.servers = {"nats://127.0.0.1:" + std::to_string(free_port())};
  o.timeout = 500ms;
  auto c = e.connect(w, o);
  ASSERT_TRUE(w.ready);
  ASSERT_FALSE(w.ready->has_value());
  auto* err = nats_error(w.ready->error());
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->status(), NATS_NO_SERVER);
  EXPECT_TRUE(w.has(event::kind::closed));
  EXPECT_THROW(c->publish("a", "x"), stakker::nats::error);
}

TEST(nats_pubsub, a_subscription_receives_what_is_published_in_order) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  std::vector<std::string> got;
  auto sub = c->subscribe("greet", fwd_do<message>([&](message m) {
                            EXPECT_EQ(m.subject(), "greet");
                            got.emplace_back(m.data());
                          }));
  for (int i = 0; i < 1000; ++i) c->publish("greet", std::to_string(i));
  ASSERT_TRUE(e.until([&] { return got.size() == 1000; }));
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], std::to_string(i));
}

TEST(nats_pubsub, wildcards_match_tokens_and_tails) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  std::vector<std::string> star, tail;
  auto a = c->subscribe("orders.*.new",
                        fwd_do<message>([&](message m) { star.emplace_back(m.subject()); }));
  auto b =
      c->subscribe("orders.>", fwd_do<message>([&](message m) { tail.emplace_back(m.subject()); }));
  c->publish("orders.eu.new", "1");
  c->publish("orders.eu.old", "2");
  c->publish("orders.us.new.x", "3");
  c->publish("other", "4");
  ASSERT_TRUE(e.until([&] { return tail.size() == 3; }));
  e.until([] { return false; }, 100ms);
  EXPECT_EQ(star, (std::vector<std::string>{"orders.eu.new"}));
  EXPECT_EQ(tail, (std::vector<std::string>{"orders.eu.new", "orders.eu.old", "orders.us.new.x"}));
}

TEST(nats_pubsub, a_queue_group_gives_each_message_to_one_member_and_spreads_them) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  int n1 = 0, n2 = 0;
  auto a = c->subscribe("work", fwd_do<message>([&](message) { ++n1; }), "workers");
  auto b = c->subscribe("work", fwd_do<message>([&](message) { ++n2; }), "workers");
  for (int i = 0; i < 400; ++i) c->publish("work", "job");
  ASSERT_TRUE(e.until([&] { return n1 + n2 == 400; }));
  e.until([] { return false; }, 100ms);
  EXPECT_EQ(n1 + n2, 400);
  EXPECT_GT(n1, 0);
  EXPECT_GT(n2, 0);
}

TEST(nats_pubsub, headers_travel_with_the_message) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  std::optional<message> got;
  auto sub = c->subscribe("h", fwd_do<message>([&](message m) { got = std::move(m); }));
  c->publish("h", "body", headers{{"Trace", "abc"}, {"Multi", "1"}, {"Multi", "2"}});
  ASSERT_TRUE(e.until([&] { return got.has_value(); }));
  EXPECT_EQ(got->data(), "body");
  EXPECT_EQ(got->header("Trace"), "abc");
  EXPECT_EQ(got->header_values("Multi"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_FALSE(got->header("Absent").has_value());
}

TEST(nats_pubsub, dropping_the_subscription_unsubscribes_even_messages_already_received) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  int n = 0, other = 0;
  auto sub = c->subscribe("d", fwd_do<message>([&](message) { ++n; }));
  auto probe = c->subscribe("d", fwd_do<message>([&](message) { ++other; }));
  c->publish("d", "1");
  ASSERT_TRUE(e.until([&] { return n == 1 && other == 1; }));
  c->publish("d", "2");
  sub.reset();  // before the loop reads the echo
  EXPECT_FALSE(sub);
  ASSERT_TRUE(e.until([&] { return other == 2; }));
  e.until([] { return false; }, 100ms);
  EXPECT_EQ(n, 1);
}

TEST(nats_pubsub, a_subscriber_may_drop_its_own_subscription_from_its_callback) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  int n = 0;
  stakker::nats::subscription sub;
  sub = c->subscribe("self", fwd_do<message>([&](message) {
                       ++n;
                       sub.reset();
                     }));
  for (int i = 0; i < 10; ++i) c->publish("self", "x");
  ASSERT_TRUE(e.until([&] { return n == 1; }));
  e.until([] { return false; }, 100ms);
  EXPECT_EQ(n, 1);
}

TEST(nats_bad_input, invalid_subjects_throw_and_the_connection_keeps_working) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  for (const char* bad : {"", "a b", "a..b", ".a", "a.", "a.*", "a.>", "tab\there"}) {
    try {
      c->publish(bad, "x");
      ADD_FAILURE() << "published to '" << bad << "'";
    } catch (const stakker::nats::error& err) {
      EXPECT_EQ(err.status(), NATS_INVALID_SUBJECT) << bad;
    }
  }
  for (const char* bad : {"", "a b", "a.>.b", "a.b*", "..", "a.>x"})
    EXPECT_THROW(c->subscribe(bad, fwd_do<message>([](message) {})), stakker::nats::error) << bad;
  int n = 0;
  auto sub = c->subscribe("still.ok", fwd_do<message>([&](message) { ++n; }));
  c->publish("still.ok", "x");
  ASSERT_TRUE(e.until([&] { return n == 1; }));
  EXPECT_TRUE(c->is_connected());
}

TEST(nats_bad_input, a_payload_over_max_payload_throws_and_the_connection_keeps_working) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  std::int64_t max = c->max_payload();
  ASSERT_GT(max, 0);
  std::string big(static_cast<std::size_t>(max) + 1, 'x');
  try {
    c->publish("big", big);
    ADD_FAILURE() << "published over max_payload";
  } catch (const stakker::nats::error& err) {
    EXPECT_EQ(err.status(), NATS_MAX_PAYLOAD);
    EXPECT_NE(std::string(err.what()).find(std::to_string(max)), std::string::npos);
  }
  std::string fits(static_cast<std::size_t>(max) - 64, 'y');
  std::size_t got = 0;
  auto sub = c->subscribe("big", fwd_do<message>([&](message m) { got = m.data().size(); }));
  c->publish("big", fits);
  ASSERT_TRUE(e.until([&] { return got == fits.size(); }));
}

}  // namespace

namespace {
TEST(nats_connection, destroying_a_connected_connection_does_not_wait) {
  nats_test::server s;
  nats_test::env e;
  nats_test::watch w;
  auto c = e.connect(w, s);
  auto sub = c->subscribe("x", stakker::fwd_do<nats_test::message>([](nats_test::message) {}));
  c->publish("x", "y");
  e.until([] { return false; }, std::chrono::milliseconds(50));
  auto t0 = std::chrono::steady_clock::now();
  c.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
}
}  // namespace
