// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/nats/jetstream.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "nats/support.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"

namespace {

using namespace nats_test;
using stakker::ret_do;
using stakker::coro::result;
using stakker::coro::task;
namespace js = stakker::nats::js;

// A JetStream server with file storage in a folder of its own, removed after.
struct js_server {
  std::filesystem::path dir;
  std::optional<server> s;
  js_server() {
    char tmpl[] = "/tmp/stakker-js-XXXXXX";
    char* d = ::mkdtemp(tmpl);
    if (d == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = d;
    s.emplace(std::vector<std::string>{"-js", "-sd", dir.string()});
  }
  ~js_server() {
    s.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Messages for the durability test: STAKKER_JS_MESSAGES (fewer under valgrind), else 100k.
int message_count() {
  const char* v = std::getenv("STAKKER_JS_MESSAGES");
  return v != nullptr ? std::atoi(v) : 100000;
}

template <class T>
struct answer {
  std::optional<result<T>> r;
  stakker::ret<result<T>> make() {
    return ret_do<result<T>>([this](std::optional<result<T>> v) {
      ASSERT_TRUE(v.has_value());
      r = std::move(v);
    });
  }
};

void make_stream(env& e, connection& c, const std::string& name, const std::string& subjects,
                 stakker::duration ack_wait) {
  answer<void> a, b;
  js::add_stream(c, {name, {subjects}}, a.make());
  ASSERT_TRUE(e.until([&] { return a.r.has_value(); }));
  ASSERT_TRUE(a.r->has_value()) << a.r->error().what();
  js::consumer_config cc;
  cc.durable = "worker";
  cc.ack_wait = ack_wait;
  js::add_consumer(c, name, cc, b.make());
  ASSERT_TRUE(e.until([&] { return b.r.has_value(); }));
  ASSERT_TRUE(b.r->has_value()) << b.r->error().what();
}

TEST(nats_jetstream, acknowledged_publishes_survive_a_restart_and_arrive_once_in_order) {
  js_server jsv;
  env e;
  watch w;
  stakker::nats::options o;
  o.servers = {jsv.s->url()};
  o.reconnect_wait = 50ms;
  o.max_reconnect = -1;
  auto c = e.connect(w, o);
  make_stream(e, *c, "EVENTS", "events.>", 2s);

  // Publish with acknowledgements, a window of them in flight at a time.
  const int n = message_count();
  int acked = 0, next = 0, in_flight = 0;
  std::uint64_t last_seq = 0;
  bool ordered = true;
  while (acked < n) {
    while (next < n && in_flight < 1024) {
      ++in_flight;
      js::publish(*c, "events." + std::to_string(next % 7), std::to_string(next),
                  ret_do<result<js::pub_ack>>([&](std::optional<result<js::pub_ack>> r) {
                    --in_flight;
                    ++acked;
                    ASSERT_TRUE(r && r->has_value()) << (r ? r->error().what() : "none");
                    ordered = ordered && (*r)->seq == last_seq + 1 && (*r)->stream == "EVENTS";
                    last_seq = (*r)->seq;
                  }),
                  {}, 30s);
      ++next;
    }
    ASSERT_TRUE(e.until([&] { return acked == n || (next < n && in_flight < 1024); }, 60000ms));
  }
  EXPECT_TRUE(ordered);
  EXPECT_EQ(last_seq, static_cast<std::uint64_t>(n));

  jsv.s->stop();
  jsv.s->start();
  ASSERT_TRUE(e.until([&] { return w.has(event::kind::reconnected); }, 20000ms));

  // Consume everything through the durable consumer, acknowledging each after handling it.
  auto reader = [](connection& conn, int count) -> task<std::vector<std::uint64_t>> {
    auto st = js::pull(conn, "EVENTS", "worker", 500);
    std::vector<std::uint64_t> seqs;
    while (static_cast<int>(seqs.size()) < count) {
      std::optional<js::js_message> m = co_await st.next();
      if (!m) break;
      if (std::to_string(m->stream_sequence() - 1) != m->data()) break;  // order and payload
      seqs.push_back(m->stream_sequence());
      m->ack();
    }
    co_return seqs;
  };
  std::optional<std::vector<std::uint64_t>> seqs;
  stakker::coro::spawn(
      e.rt, reader(*c, n),
      ret_do<std::vector<std::uint64_t>>(
          [&](std::optional<std::vector<std::uint64_t>> v) { seqs = std::move(v); }));
  ASSERT_TRUE(e.until([&] { return seqs.has_value(); }, 60000ms));
  ASSERT_EQ(seqs->size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    ASSERT_EQ((*seqs)[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(i + 1));

  // Nothing comes again once acknowledged, not even after the ack wait.
  std::optional<std::vector<std::uint64_t>> again;
  stakker::coro::spawn(
      e.rt, reader(*c, 1),
      ret_do<std::vector<std::uint64_t>>(
          [&](std::optional<std::vector<std::uint64_t>> v) { again = std::move(v); }));
  e.until([&] { return again.has_value(); }, 3000ms);
  EXPECT_FALSE(again.has_value()) << "a message acknowledged came again";
}

TEST(nats_jetstream, a_message_not_acknowledged_comes_again_after_the_ack_wait) {
  js_server jsv;
  env e;
  watch w;
  auto c = e.connect(w, *jsv.s);
  make_stream(e, *c, "JOBS", "jobs", 300ms);
  answer<js::pub_ack> p;
  js::publish(*c, "jobs", "wash", p.make());
  ASSERT_TRUE(e.until([&] { return p.r.has_value(); }));
  ASSERT_TRUE(p.r->has_value());
  auto body = [](connection& conn) -> task<std::vector<std::uint64_t>> {
    auto st = js::pull(conn, "JOBS", "worker", 10, 200ms);
    std::vector<std::uint64_t> deliveries;
    std::optional<js::js_message> first = co_await st.next();  // handled badly: no ack
    if (!first) co_return deliveries;
    deliveries.push_back(first->delivered());
    std::optional<js::js_message> second = co_await st.next();
    if (!second) co_return deliveries;
    deliveries.push_back(second->delivered());
    if (second->data() == "wash") second->ack();
    co_return deliveries;
  };
  std::optional<std::vector<std::uint64_t>> got;
  stakker::coro::spawn(
      e.rt, body(*c),
      ret_do<std::vector<std::uint64_t>>(
          [&](std::optional<std::vector<std::uint64_t>> v) { got = std::move(v); }));
  ASSERT_TRUE(e.until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, (std::vector<std::uint64_t>{1, 2}));
}

TEST(nats_jetstream, api_errors_and_subjects_without_a_stream_are_clear_errors) {
  js_server jsv;
  env e;
  watch w;
  auto c = e.connect(w, *jsv.s);
  answer<js::pub_ack> p;
  js::publish(*c, "no.stream.here", "x", p.make());
  ASSERT_TRUE(e.until([&] { return p.r.has_value(); }));
  ASSERT_FALSE(p.r->has_value());
  EXPECT_EQ(nats_error(p.r->error())->status(), NATS_NO_RESPONDERS);

  answer<void> a, b;
  js::add_stream(*c, {"ONE", {"one.>"}}, a.make());
  ASSERT_TRUE(e.until([&] { return a.r.has_value(); }));
  ASSERT_TRUE(a.r->has_value());
  js::add_stream(*c, {"TWO", {"one.>"}}, b.make());  // overlapping subjects
  ASSERT_TRUE(e.until([&] { return b.r.has_value(); }));
  ASSERT_FALSE(b.r->has_value());
  EXPECT_NE(std::string(nats_error(b.r->error())->what()).find("err_code"), std::string::npos)
      << nats_error(b.r->error())->what();
  EXPECT_THROW(js::add_stream(*c, {"bad.name", {"x"}}, stakker::ret_nop<result<void>>()),
               stakker::nats::error);
  EXPECT_TRUE(c->is_connected());
}

TEST(nats_jetstream, without_jetstream_the_api_answers_no_responders) {
  server s;
  env e;
  watch w;
  auto c = e.connect(w, s);
  answer<void> a;
  js::add_stream(*c, {"S", {"s"}}, a.make());
  ASSERT_TRUE(e.until([&] { return a.r.has_value(); }));
  ASSERT_FALSE(a.r->has_value());
  EXPECT_EQ(nats_error(a.r->error())->status(), NATS_NO_RESPONDERS);
}

TEST(nats_jetstream, a_fetch_the_server_lost_in_a_restart_is_sent_again) {
  js_server jsv;
  env e;
  watch w;
  stakker::nats::options o;
  o.servers = {jsv.s->url()};
  o.reconnect_wait = 50ms;
  o.max_reconnect = -1;
  auto c = e.connect(w, o);
  make_stream(e, *c, "LATE", "late", 30s);
  auto body = [](connection& conn) -> task<std::string> {
    auto st = js::pull(conn, "LATE", "worker", 1, 1s);
    std::optional<js::js_message> m = co_await st.next();
    if (!m) co_return std::string();
    m->ack();
    co_return std::string(m->data());
  };
  std::optional<std::string> got;
  stakker::coro::spawn(e.rt, body(*c),
                       ret_do<std::string>([&](std::optional<std::string> v) { got = v; }));
  e.until([] { return false; }, 200ms);  // the first fetch is out, waiting on the server
  jsv.s->kill();   // no goodbye: a server stopped in order tells pending fetches they end
  jsv.s->start();  // a new server process: the pending fetch is gone with the old one
  ASSERT_TRUE(e.until([&] { return w.has(event::kind::reconnected); }, 20000ms));
  answer<js::pub_ack> p;
  js::publish(*c, "late", "after the restart", p.make());
  ASSERT_TRUE(e.until([&] { return p.r.has_value(); }));
  ASSERT_TRUE(p.r->has_value());
  ASSERT_TRUE(e.until([&] { return got.has_value(); }, 10000ms))
      << "the reader waits for a fetch nobody answers";
  EXPECT_EQ(*got, "after the restart");
}

}  // namespace
