// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/nats/codec.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "nats/support.hpp"
#include "stakker/nats/json.hpp"

namespace shop {
struct order {
  std::string item;
  int quantity = 0;
  std::vector<std::string> tags;
  friend bool operator==(const order&, const order&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(order, item, quantity, tags)
struct receipt {
  int total = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(receipt, total)
}  // namespace shop

namespace {

using namespace nats_test;
using stakker::fwd_do;
using stakker::ret_do;
using stakker::coro::result;
using stakker::nats::json_codec;

static_assert(stakker::nats::codec_for<json_codec, shop::order>);

TEST(nats_codec, json_round_trips_a_type) {
  shop::order o{"tea", 3, {"green", "loose"}};
  EXPECT_EQ(json_codec::decode<shop::order>(json_codec::encode(o)), o);
}

TEST(nats_codec, typed_publish_and_subscribe_carry_values) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  std::vector<shop::order> got;
  auto sub = stakker::nats::subscribe_as<shop::order, json_codec>(
      *c, "orders", fwd_do<result<shop::order>>([&](result<shop::order> r) {
        ASSERT_TRUE(r.has_value());
        got.push_back(*r);
      }));
  stakker::nats::publish_as<json_codec>(*c, "orders", shop::order{"tea", 1, {}});
  stakker::nats::publish_as<json_codec>(*c, "orders", shop::order{"cake", 2, {"x"}});
  ASSERT_TRUE(e.until([&] { return got.size() == 2; }));
  EXPECT_EQ(got[0], (shop::order{"tea", 1, {}}));
  EXPECT_EQ(got[1], (shop::order{"cake", 2, {"x"}}));
}

TEST(nats_codec, a_payload_the_codec_cannot_read_is_a_clear_error_and_the_rest_go_on) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  std::vector<result<shop::order>> got;
  auto sub = stakker::nats::subscribe_as<shop::order, json_codec>(
      *c, "orders",
      fwd_do<result<shop::order>>([&](result<shop::order> r) { got.push_back(std::move(r)); }));
  c->publish("orders", "not json at all");
  c->publish("orders", R"({"item": 5})");  // JSON, but not an order
  stakker::nats::publish_as<json_codec>(*c, "orders", shop::order{"tea", 1, {}});
  ASSERT_TRUE(e.until([&] { return got.size() == 3; }));
  ASSERT_FALSE(got[0].has_value());
  auto* err = nats_error(got[0].error());
  ASSERT_NE(err, nullptr);
  EXPECT_NE(std::string(err->what()).find("cannot decode"), std::string::npos) << err->what();
  EXPECT_NE(std::string(err->what()).find("not json at all"), std::string::npos);
  EXPECT_FALSE(got[1].has_value());
  ASSERT_TRUE(got[2].has_value());
  EXPECT_EQ(got[2]->item, "tea");
  EXPECT_TRUE(c->is_connected());
}

TEST(nats_codec, a_typed_request_decodes_its_reply) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  auto svc = stakker::nats::subscribe_as<shop::order, json_codec>(
      *c, "price", fwd_do<result<shop::order>>([&](result<shop::order>) {}));
  auto cashier =
      c->subscribe("checkout", fwd_do<message>([&](message m) {
                     auto o = json_codec::decode<shop::order>(m.data());
                     c->publish(m.reply(), json_codec::encode(shop::receipt{o.quantity * 7}));
                   }));
  std::optional<result<shop::receipt>> got;
  stakker::nats::request_as<shop::receipt, json_codec>(
      *c, "checkout", shop::order{"tea", 3, {}}, 5s,
      ret_do<result<shop::receipt>>(
          [&](std::optional<result<shop::receipt>> r) { got = std::move(r); }));
  ASSERT_TRUE(e.until([&] { return got.has_value(); }));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->total, 21);
}

}  // namespace
