// SPDX-License-Identifier: MIT OR Apache-2.0
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "nats/support.hpp"
#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/nats/service.hpp"

namespace {

using namespace nats_test;
using stakker::fwd_do;
using stakker::ret;
using stakker::ret_do;
using stakker::coro::result;
using stakker::nats::service_call;
using stakker::nats::service_reply;

using answer_t = std::optional<result<message>>;

ret<result<message>> keep(answer_t& into) {
  return ret_do<result<message>>([&into](std::optional<result<message>> r) {
    ASSERT_TRUE(r.has_value()) << "a request's ret must always be answered";
    into = std::move(r);
  });
}

natsStatus status_of(const answer_t& a) {
  if (!a || a->has_value()) return NATS_OK;
  auto* e = nats_error(a->error());
  return e ? e->status() : NATS_ERR;
}

TEST(nats_request, a_request_is_answered_with_the_reply) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto svc = c->subscribe("echo", fwd_do<message>([&](message m) {
                            c->publish(m.reply(), "re: " + std::string(m.data()));
                          }));
  answer_t a;
  c->request("echo", "hi", 5s, keep(a));
  ASSERT_TRUE(e.until([&] { return a.has_value(); }));
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->data(), "re: hi");
}

TEST(nats_request, many_requests_in_flight_each_get_their_own_reply) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto svc =
      c->subscribe("double", fwd_do<message>([&](message m) {
                     c->publish(m.reply(), std::to_string(2 * std::stoi(std::string(m.data()))));
                   }));
  std::vector<answer_t> as(500);
  for (int i = 0; i < 500; ++i)
    c->request("double", std::to_string(i), 5s, keep(as[static_cast<std::size_t>(i)]));
  ASSERT_TRUE(e.until([&] {
    for (auto& a : as)
      if (!a) return false;
    return true;
  }));
  for (int i = 0; i < 500; ++i) {
    auto& a = as[static_cast<std::size_t>(i)];
    ASSERT_TRUE(a->has_value());
    EXPECT_EQ((*a)->data(), std::to_string(2 * i));
  }
}

TEST(nats_request, a_request_nobody_answers_times_out_with_nats_timeout) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto mute = c->subscribe("mute", fwd_do<message>([](message) {}));
  answer_t a;
  auto t0 = std::chrono::steady_clock::now();
  c->request("mute", "?", 200ms, keep(a));
  ASSERT_TRUE(e.until([&] { return a.has_value(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);  // from the time of the run before
  EXPECT_EQ(status_of(a), NATS_TIMEOUT);
}

TEST(nats_request, a_request_to_a_subject_without_subscribers_fails_at_once_with_no_responders) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  answer_t a;
  auto t0 = std::chrono::steady_clock::now();
  c->request("nobody.home", "?", 10s, keep(a));
  ASSERT_TRUE(e.until([&] { return a.has_value(); }, 5000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(status_of(a), NATS_NO_RESPONDERS);
}

TEST(nats_request, requests_pending_when_the_connection_closes_are_answered_connection_closed) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto mute = c->subscribe("mute", fwd_do<message>([](message) {}));
  answer_t a, b;
  c->request("mute", "?", 30s, keep(a));
  c->close();
  ASSERT_TRUE(e.until([&] { return a.has_value(); }));
  EXPECT_EQ(status_of(a), NATS_CONNECTION_CLOSED);
  c->request("mute", "?", 30s, keep(b));  // after the close: answered, not thrown
  EXPECT_EQ(status_of(b), NATS_CONNECTION_CLOSED);
}

TEST(nats_request, destroying_the_connection_answers_its_pending_requests) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto mute = c->subscribe("mute", fwd_do<message>([](message) {}));
  answer_t a;
  c->request("mute", "?", 30s, keep(a));
  c.reset();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(status_of(a), NATS_CONNECTION_CLOSED);
}

// --- services from actors --------------------------------------------------------------

struct calculator {
  int served = 0;
  static calculator init(stakker::cx<calculator>&) { return {}; }
  void square(stakker::cx<calculator>&, message m, ret<service_reply> r) {
    ++served;
    int v = std::stoi(std::string(m.data()));
    r(service_reply{std::to_string(v * v), {{"Served-By", "calculator"}}});
  }
  void forget(stakker::cx<calculator>&, message, ret<service_reply>) { ++served; }
  void crash(stakker::cx<calculator>&, message, ret<service_reply>) {
    throw std::runtime_error("calculator overflow");
  }
};

TEST(nats_service, an_actor_member_serves_requests_and_its_ret_is_the_reply) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto calc = stakker::make_actor<&calculator::init>(e.rt, stakker::ret_nop<stakker::stop_cause>());
  auto svc = stakker::nats::serve<&calculator::square>(*c, "calc.square", calc);
  answer_t a;
  c->request("calc.square", "12", 5s, keep(a));
  ASSERT_TRUE(e.until([&] { return a.has_value(); }));
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->data(), "144");
  EXPECT_EQ((*a)->header("Served-By"), "calculator");
}

TEST(nats_service, a_dropped_ret_answers_the_requester_with_an_error_at_once) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto calc = stakker::make_actor<&calculator::init>(e.rt, stakker::ret_nop<stakker::stop_cause>());
  auto svc = stakker::nats::serve<&calculator::forget>(*c, "calc.forget", calc);
  answer_t a;
  auto t0 = std::chrono::steady_clock::now();
  c->request("calc.forget", "1", 30s, keep(a));
  ASSERT_TRUE(e.until([&] { return a.has_value(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(status_of(a), NATS_ERR);
  EXPECT_NE(std::string(nats_error(a->error())->what()).find("dropped"), std::string::npos);
}

TEST(nats_service, a_failing_responder_actor_answers_with_an_error_reply) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  std::optional<stakker::stop_cause> cause;
  auto calc = stakker::make_actor<&calculator::init>(
      e.rt,
      ret_do<stakker::stop_cause>([&](std::optional<stakker::stop_cause> sc) { cause = sc; }));
  auto svc = stakker::nats::serve<&calculator::crash>(*c, "calc.crash", calc);
  answer_t a;
  c->request("calc.crash", "1", 30s, keep(a));
  ASSERT_TRUE(e.until([&] { return a.has_value(); }));
  EXPECT_EQ(status_of(a), NATS_ERR);
  EXPECT_TRUE(cause.has_value());
  // A stopped actor's later requests are answered too (the call is dropped, its ret with it).
  answer_t b;
  c->request("calc.crash", "2", 30s, keep(b));
  ASSERT_TRUE(e.until([&] { return b.has_value(); }));
  EXPECT_EQ(status_of(b), NATS_ERR);
}

TEST(nats_service, a_queue_group_of_services_spreads_requests_over_its_members) {
  server s;
  env e;
  watch w;
  auto c1 = e.connect(w, s);
  watch w2;
  auto c2 = e.connect(w2, s);
  auto a1 = stakker::make_actor<&calculator::init>(e.rt, stakker::ret_nop<stakker::stop_cause>());
  auto a2 = stakker::make_actor<&calculator::init>(e.rt, stakker::ret_nop<stakker::stop_cause>());
  auto s1 = stakker::nats::serve<&calculator::square>(*c1, "sq", a1, "calcs");
  auto s2 = stakker::nats::serve<&calculator::square>(*c2, "sq", a2, "calcs");
  e.sync(*c2);  // c2's subscription is known to the server before c1 asks
  std::vector<answer_t> as(200);
  for (std::size_t i = 0; i < as.size(); ++i) c1->request("sq", "3", 5s, keep(as[i]));
  ASSERT_TRUE(e.until([&] {
    for (auto& a : as)
      if (!a) return false;
    return true;
  }));
  for (auto& a : as) EXPECT_EQ((*a)->data(), "9");
  int n1 = 0, n2 = 0;
  stakker::inspect(e.rt, a1, [&](calculator& x) { n1 = x.served; });
  stakker::inspect(e.rt, a2, [&](calculator& x) { n2 = x.served; });
  EXPECT_EQ(n1 + n2, 200);
  EXPECT_GT(n1, 0);
  EXPECT_GT(n2, 0);
}

}  // namespace
