// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/nats/connection.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>
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

// A fake NATS server on a thread: it completes the handshake, then, when told, sends a
// last line (one that needs no answer, so no write reveals the loss) and closes at once, with a
// reset (SO_LINGER 0) or a plain close. The line and the end arrive together, in one edge of the
// client's socket.
namespace {
struct one_shot_server {
  int listen_fd = -1;
  int port = 0;
  std::thread th;
  std::promise<void> go;
  explicit one_shot_server(bool reset) {
    listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd, 1);
    ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    th = std::thread([this, reset, started = go.get_future()]() mutable {
      int fd = ::accept(listen_fd, nullptr, nullptr);
      std::string info =
          "INFO {\"server_id\":\"fake\",\"version\":\"2.9.10\",\"proto\":1,"
          "\"headers\":true,\"max_payload\":1048576}\r\n";
      ::send(fd, info.data(), info.size(), MSG_NOSIGNAL);
      std::string got;
      char buf[4096];
      while (got.find("PING\r\n") == std::string::npos) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
      ::send(fd, "PONG\r\n", 6, MSG_NOSIGNAL);
      started.wait();
      if (reset) {
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      }
      ::send(fd, "+OK\r\n", 5, MSG_NOSIGNAL);  // asks for no answer: nothing is written
      ::close(fd);
    });
  }
  ~one_shot_server() {
    if (th.joinable()) th.join();
    ::close(listen_fd);
  }
};

void lost_with_the_last_data(bool reset) {
  one_shot_server fake(reset);
  nats_test::env e;
  nats_test::watch w;
  stakker::nats::options o;
  o.servers = {"nats://127.0.0.1:" + std::to_string(fake.port)};
  o.allow_reconnect = false;
  auto c = e.connect(w, o);
  ASSERT_TRUE(w.ready && w.ready->has_value());
  fake.go.set_value();
  ASSERT_TRUE(e.until([&] { return w.has(nats_test::event::kind::closed); },
                      std::chrono::milliseconds(5000)))
      << "the end of the connection went unnoticed";
}
}  // namespace

TEST(nats_connection, a_connection_reset_arriving_with_the_last_data_is_noticed) {
  lost_with_the_last_data(true);
}

TEST(nats_connection, a_connection_closed_with_the_last_data_is_noticed) {
  lost_with_the_last_data(false);
}
