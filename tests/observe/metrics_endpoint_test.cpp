// SPDX-License-Identifier: MIT OR Apache-2.0
// metrics_endpoint against a plain socket client: the test turns the endpoint's loop on
// its own thread while it waits for answers.
#include "stakker/observe/metrics_endpoint.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop/net_support.hpp"
#include "observe/http_client.hpp"
#include "stakker/observe/prometheus.hpp"

namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using observe_test::client;
using stakker::observe::metrics_endpoint;
using stakker::observe::metrics_endpoint_options;

constexpr std::string_view good_get = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";

class metrics_endpoint_test : public stakker_test::loop_fixture {
 protected:
  // An endpoint whose body counts its calls.
  metrics_endpoint make(const metrics_endpoint_options& o = {}) {
    return metrics_endpoint(
        loop, [this] { return "stakker_test_scrapes " + std::to_string(++scrapes) + "\n"; }, o);
  }
  // Turns the loop until `m` has `n` connections.
  bool until_connections(const metrics_endpoint& m, std::size_t n) {
    return drive([&] { return m.connections() == n; }, 10s);
  }
  int scrapes = 0;
};

TEST_F(metrics_endpoint_test, serves_the_body_with_prometheus_content_type_on_loopback) {
  metrics_endpoint m = make();
  ASSERT_NE(m.port(), 0);
  EXPECT_EQ(m.local_address().to_string(), "127.0.0.1:" + std::to_string(m.port()));
  client c(m.port());
  c.send(good_get);
  const auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r->header("content-length"), std::to_string(r->body.size()));
  EXPECT_EQ(r->body, "stakker_test_scrapes 1\n");
  EXPECT_EQ(r->header("connection"), "");  // HTTP/1.1: keep-alive by default
}

TEST_F(metrics_endpoint_test, answers_404_to_other_paths) {
  metrics_endpoint m = make();
  client c(m.port());
  for (std::string_view target : {"/", "/metric", "/metrics/", "/Metrics", "/other?x=1"}) {
    c.send("GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto r = c.receive(loop);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 404) << target;
    EXPECT_NE(r->body.find("/metrics"), std::string::npos) << "the body names the path";
  }
  // A query string is not part of the path; the connection stayed open throughout.
  c.send("GET /metrics?name[]=x HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(scrapes, 1);
}

TEST_F(metrics_endpoint_test, answers_405_with_allow_to_other_methods) {
  metrics_endpoint m = make();
  client c(m.port());
  c.send("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD");
  EXPECT_FALSE(r->body.empty());
  // Without a body the connection stays usable; with one (not read) it closes.
  c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_server(loop));
  EXPECT_EQ(scrapes, 0);
}

TEST_F(metrics_endpoint_test, refuses_an_oversized_request_head_with_431) {
  metrics_endpoint_options o;
  o.max_request_head = 1024;
  metrics_endpoint m = make(o);
  client c(m.port());
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(2000, 'a') + "\r\n\r\n");
  const auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_NE(r->body.find("1024"), std::string::npos) << r->body;
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_server(loop));
  // Exactly at the limit is accepted.
  client ok(m.port());
  std::string head = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  head += std::string(1024 - head.size() - 4, 'b') + "\r\n\r\n";
  ASSERT_EQ(head.size(), 1024u);
  ok.send(head);
  const auto r2 = ok.receive(loop);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
}

TEST_F(metrics_endpoint_test, refuses_malformed_requests_with_400_saying_why_and_closes) {
  metrics_endpoint m = make();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\x01\x02garbage", "method"},
      {"GET /metrics\r\n\r\n", "request line"},
      {"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", "version"},
      {"GET /metrics HTTX/1.1\r\nHost: x\r\n\r\n", "version"},
      {"GET /metrics HTTP/1.1\r\n\r\n", "Host"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "Host"},
      {"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", "name"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", "obs-fold"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", "colon"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", "CR"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"s, "control"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "Content-Length"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", "body"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "body"},
      {"GET /me trics HTTP/1.1\r\nHost: x\r\n\r\n", "version"},
      {"GET /m\x7f HTTP/1.1\r\nHost: x\r\n\r\n", "target"},
  };
  for (const auto& [request, why] : cases) {
    client c(m.port());
    c.send(request);
    const auto r = c.receive(loop);
    ASSERT_TRUE(r) << request;
    EXPECT_EQ(r->status, 400) << request;
    EXPECT_NE(r->body.find(why), std::string::npos) << request << " -> " << r->body;
    EXPECT_EQ(r->header("connection"), "close") << request;
    EXPECT_TRUE(c.closed_by_server(loop)) << request;
  }
  EXPECT_EQ(scrapes, 0);
  EXPECT_TRUE(until_connections(m, 0));
}

TEST_F(metrics_endpoint_test, keeps_a_connection_alive_for_two_requests_and_honours_close) {
  metrics_endpoint m = make();
  client c(m.port());
  c.send(good_get);
  auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "stakker_test_scrapes 1\n");
  c.send(good_get);
  r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "stakker_test_scrapes 2\n");
  EXPECT_EQ(m.connections(), 1u);
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_server(loop));
}

TEST_F(metrics_endpoint_test, answers_pipelined_requests_in_order) {
  metrics_endpoint m = make();
  client c(m.port());
  c.send(std::string(good_get) + "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(good_get));
  const auto a = c.receive(loop);
  const auto b = c.receive(loop);
  const auto d = c.receive(loop);
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->body, "stakker_test_scrapes 1\n");
  EXPECT_EQ(b->status, 404);
  EXPECT_EQ(d->body, "stakker_test_scrapes 2\n");
}

TEST_F(metrics_endpoint_test, http_1_0_closes_unless_keep_alive_is_asked) {
  metrics_endpoint m = make();
  client c(m.port());
  c.send("GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "keep-alive");
  c.send("GET /metrics HTTP/1.0\r\n\r\n");
  r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_server(loop));
}

TEST_F(metrics_endpoint_test, answers_head_with_the_headers_of_get_and_no_body) {
  metrics_endpoint m = make();
  client c(m.port());
  c.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.receive(loop, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"),
            std::to_string(std::string("stakker_test_scrapes 1\n").size()));
  EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(c.received(), "");
  // The next response starts right after the headers: no body was sent.
  c.send(good_get);
  r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "stakker_test_scrapes 2\n");
}

TEST_F(metrics_endpoint_test, answers_a_request_delivered_byte_by_byte) {
  metrics_endpoint m = make();
  client c(m.port());
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
  for (std::size_t i = 0; i + 1 < request.size(); ++i) {
    c.send(request.substr(i, 1));
    ASSERT_FALSE(c.got_bytes(loop, 2)) << "answered after " << i + 1 << " bytes";
  }
  c.send(request.substr(request.size() - 1));
  const auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(scrapes, 1);
}

TEST_F(metrics_endpoint_test, answers_503_over_the_connection_limit_and_recovers) {
  metrics_endpoint_options o;
  o.max_connections = 2;
  metrics_endpoint m = make(o);
  client a(m.port());
  client b(m.port());
  ASSERT_TRUE(until_connections(m, 2));
  client over(m.port());
  const auto r = over.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(over.closed_by_server(loop));
  EXPECT_EQ(m.connections(), 2u);
  a.close();
  ASSERT_TRUE(until_connections(m, 1));
  client again(m.port());
  again.send(good_get);
  const auto r2 = again.receive(loop);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  b.send(good_get);
  EXPECT_TRUE(b.receive(loop));
}

TEST_F(metrics_endpoint_test, closes_an_idle_connection_and_a_slow_request_after_the_timeouts) {
  metrics_endpoint_options o;
  o.idle_timeout = 200ms;
  o.request_timeout = 300ms;
  metrics_endpoint m = make(o);
  const auto start = stakker::clock::now();
  client idle(m.port());
  ASSERT_TRUE(idle.closed_by_server(loop, 5s));
  EXPECT_GE(stakker::clock::now() - start, 150ms);
  EXPECT_FALSE(idle.got_bytes(loop, 1)) << "a timeout sends no response";

  // A request trickling in, a byte each 100 ms: never idle, but not complete in time.
  client slow(m.port());
  const auto slow_start = stakker::clock::now();
  std::string request(good_get);
  bool closed = false;
  for (std::size_t i = 0; i < request.size() && !closed; ++i) {
    slow.send(request.substr(i, 1));
    closed = slow.closed_by_server(loop, 100ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_GE(stakker::clock::now() - slow_start, 250ms);
  EXPECT_TRUE(until_connections(m, 0));
  EXPECT_EQ(scrapes, 0);
}

TEST_F(metrics_endpoint_test, answers_500_when_the_body_throws_and_keeps_serving) {
  bool fail = true;
  metrics_endpoint m(loop, [&]() -> std::string {
    if (fail) throw std::runtime_error("secret detail");
    return "ok 1\n";
  });
  client c(m.port());
  c.send(good_get);
  auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body.find("secret"), std::string::npos);
  fail = false;
  client d(m.port());
  d.send(good_get);
  r = d.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ok 1\n");
}

TEST_F(metrics_endpoint_test, serves_a_cores_metrics_and_enables_them) {
  ASSERT_FALSE(rt.metrics_enabled());
  metrics_endpoint m(loop, rt);
  EXPECT_TRUE(rt.metrics_enabled());
  client c(m.port());
  c.send(good_get);
  const auto r = c.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const std::string runtime = "{runtime=\"" + std::to_string(rt.id()) + "\"}";
  EXPECT_NE(r->body.find("# TYPE stakker_calls_run_total counter\n"), std::string::npos);
  EXPECT_NE(r->body.find("stakker_calls_run_total" + runtime + " "), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("stakker_loop_wakeups_total" + runtime + " "), std::string::npos);
}

TEST_F(metrics_endpoint_test, binds_only_a_numeric_address) {
  metrics_endpoint_options o;
  o.address = "localhost";
  EXPECT_THROW(make(o), std::invalid_argument);
}

// One bad request of a random kind, and the status it must get (0: none, the client
// gives up before the head is complete).
struct bad_request {
  std::string bytes;
  int status;
  bool closes;
};

bad_request random_bad_request(std::mt19937_64& rng) {
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const auto junk = [&](std::size_t n) {
    std::string s(n, '\0');
    for (char& ch : s) ch = static_cast<char>(rng() & 0xff);
    return s;
  };
  const std::string host = pick(2) ? "Host: x\r\n" : "host:localhost:9090\r\n";
  switch (pick(13)) {
    case 0: {
      const char not_token[] = {'\x01', '@',    '(',    ')',    '<', '>', '{',  '}',
                                '"',    '\x7f', '\x80', '\xff', '[', ']', '\t', '\x1b'};
      return {std::string(1, not_token[pick(sizeof not_token)]) + junk(pick(300)), 400, true};
    }
    case 1:
      return {"GET /metrics HTTP/" + std::to_string(pick(10)) + "." + std::to_string(2 + pick(8)) +
                  "\r\n" + host + "\r\n",
              400, true};
    case 2:
      return {"GET /metrics HTTP/1.1\r\n" + host + "X-Pad: " + std::string(8200 + pick(4000), 'p') +
                  "\r\n\r\n",
              431, true};
    case 3:
      return {"GET /metrics HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, true};
    case 4:
      return {"GET /metrics HTTP/1.1\r\n" + host + " folded\r\n\r\n", 400, true};
    case 5:
      return {"GET /metrics HTTP/1.1\r\nHost\t: x\r\n\r\n", 400, true};
    case 6:
      return {
          "GET /metrics HTTP/1.1\r\n" + host + "Content-Length: " + junk(1 + pick(3)) + "z\r\n\r\n",
          400, true};
    case 7:
      return {"HEAD /metrics HTTP/1.1\r\n" + host + "Content-Length: 4\r\n\r\nbody", 400, true};
    case 8:
      return {"GET /metrics HTTP/1.1\r\n" + host + "X: \r\r\n\r\n", 400, true};
    case 9:
      return {"PUT /metrics HTTP/1.1\r\n" + host + "\r\n", 405, false};
    case 10:
      return {"GET /" + junk(0) + "admin HTTP/1.1\r\n" + host + "\r\n", 404, false};
    case 11: {
      const std::string whole = "GET /metrics HTTP/1.1\r\n" + host + "\r\n";
      return {whole.substr(0, pick(whole.size() - 1)), 0, false};
    }
    default:
      return {"GET  /metrics HTTP/1.1\r\n" + host + "\r\n", 400, true};
  }
}

TEST_F(metrics_endpoint_test, stays_up_and_correct_after_1000_bad_requests) {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("STAKKER_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("1000 bad requests, seed %llu (STAKKER_TEST_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  metrics_endpoint m = make();
  for (int i = 0; i < 1000; ++i) {
    const bad_request bad = random_bad_request(rng);
    client c(m.port());
    // Sent whole or in two pieces with loop turns between.
    const std::size_t cut = bad.bytes.empty() ? 0 : rng() % bad.bytes.size();
    c.send(bad.bytes.substr(0, cut));
    if (rng() % 2) (void)c.got_bytes(loop, 1);
    c.send(bad.bytes.substr(cut));
    if (bad.status == 0) {
      c.shutdown_write();  // gives up mid-request: the server closes without an answer
      ASSERT_TRUE(c.closed_by_server(loop)) << "request " << i;
      EXPECT_EQ(c.received(), "") << "request " << i;
      continue;
    }
    // An answer to HEAD has no body, whatever its status.
    const bool head = bad.bytes.starts_with("HEAD ");
    const auto r = c.receive(loop, head);
    ASSERT_TRUE(r) << "request " << i << ": no response to " << testing::PrintToString(bad.bytes);
    ASSERT_EQ(r->status, bad.status)
        << "request " << i << ": " << testing::PrintToString(bad.bytes) << " -> " << r->body;
    EXPECT_NE(r->body.empty(), !head) << "request " << i;
    if (bad.closes) {
      ASSERT_TRUE(c.closed_by_server(loop)) << "request " << i;
    }
  }
  ASSERT_TRUE(until_connections(m, 0));
  client good(m.port());
  good.send(good_get);
  const auto r = good.receive(loop);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "stakker_test_scrapes 1\n");
}

TEST_F(metrics_endpoint_test, close_drops_the_listener_and_every_connection) {
  metrics_endpoint m = make();
  client c(m.port());
  ASSERT_TRUE(until_connections(m, 1));
  m.close();
  EXPECT_EQ(m.port(), 0);
  EXPECT_EQ(m.connections(), 0u);
  EXPECT_TRUE(c.closed_by_server(loop));
}

}  // namespace
