// SPDX-License-Identifier: MIT OR Apache-2.0
// The NATS bridge against the raw NATS C client doing the same, both against one real
// nats-server that this process starts on a free loopback port: publish throughput (16 B
// and 1 KiB payloads) and request/reply round trips; and a service answering from an
// actor, with one and two instances sharing the load.
#include <benchmark/benchmark.h>

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "nats/server.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/nats/nats.hpp"
#include "stakker/stakker.hpp"

namespace {

using namespace stakker;
using std::int64_t;

nats_test::server& the_server() {
  static nats_test::server s;  // stopped when the process exits
  return s;
}

// A runtime on an epoll_loop with a connected bridge connection.
struct bridge {
  runtime rt;
  loop::epoll_loop lp{rt};
  std::shared_ptr<nats::connection> conn;
  explicit bridge(benchmark::State& state) {
    nats::options o;
    o.servers = {the_server().url()};
    bool done = false, ok = false;
    conn = nats::connection::connect(
        rt, o, fwd_nop<nats::event>(),
        ret_do<coro::result<void>>([&](std::optional<coro::result<void>> r) {
          done = true;
          ok = r && r->has_value();
        }));
    while (!done) lp.turn(std::chrono::milliseconds(10));
    if (!ok) state.SkipWithError("the bridge did not connect");
  }
  // Turns the loop until the server has processed everything sent so far: a request nobody
  // answers comes back "no responders" after it.
  void sync() {
    bool back = false;
    conn->request("_bench.nobody", "", std::chrono::seconds(10),
                  ret_do<coro::result<nats::message>>(
                      [&](std::optional<coro::result<nats::message>>) { back = true; }));
    while (!back) lp.turn(std::chrono::milliseconds(10));
  }
};

// A raw C client connection with the client's own threads; `send_asap` writes each publish
// at once instead of through the client's flusher thread (which waits up to a millisecond
// to gather more): what a latency-minded user of the raw client sets.
struct raw_conn {
  natsConnection* nc = nullptr;
  explicit raw_conn(bool send_asap = false) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, the_server().url().c_str());
    natsOptions_SetSendAsap(o, send_asap);
    natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
  }
  ~raw_conn() { natsConnection_Destroy(nc); }
  raw_conn(const raw_conn&) = delete;
  raw_conn& operator=(const raw_conn&) = delete;
};

// --- publish throughput --------------------------------------------------------------------

// Publishes from inside runs of the runtime, 1000 per run (as actors would), so each run's
// publishes leave in one write; the time ends when the server has them all.
void BM_nats_publish_stakker(benchmark::State& state) {
  bridge b(state);
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  const int64_t n = bench::size(200000);
  for (auto _ : state) {
    for (int64_t left = n; left > 0;) {
      int64_t k = std::min<int64_t>(1000, left);
      left -= k;
      b.rt.defer([&, k](core&) {
        for (int64_t i = 0; i < k; ++i) b.conn->publish("bench.pub", payload);
      });
      b.lp.turn(duration::zero());
    }
    b.sync();
  }
  bench::per_op(state, n);
}
BENCHMARK(BM_nats_publish_stakker)
    ->Name("BM_nats_publish/stakker")
    ->Arg(16)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The raw client: natsConnection_Publish in a loop (its flusher thread writes), then
// natsConnection_Flush (a PING the server answers once it has processed everything before).
void BM_nats_publish_raw(benchmark::State& state) {
  raw_conn c;
  if (c.nc == nullptr) {
    state.SkipWithError("the raw client did not connect");
    return;
  }
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  const int64_t n = bench::size(200000);
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i)
      natsConnection_Publish(c.nc, "bench.pub", payload.data(), static_cast<int>(payload.size()));
    natsConnection_Flush(c.nc);
  }
  bench::per_op(state, n);
}
BENCHMARK(BM_nats_publish_raw)
    ->Name("BM_nats_publish/raw_c_client")
    ->Arg(16)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- request/reply round trip --------------------------------------------------------------
// One request in flight at a time. The raw client writes each request at once (send asap)
// and waits in natsConnection_RequestString; the bridge's request leaves with the run's
// write and its answer comes back through the connection's inbox.

// The responder both sides ask: a raw C client connection replying from its own thread,
// each reply written at once.
struct responder {
  raw_conn c{true};
  natsSubscription* sub = nullptr;
  static void on(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
    if (natsMsg_GetReply(m) != nullptr)
      natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m), natsMsg_GetDataLength(m));
    natsMsg_Destroy(m);
  }
  responder() {
    natsConnection_Subscribe(&sub, c.nc, "bench.echo", on, nullptr);
    natsConnection_Flush(c.nc);
  }
  ~responder() { natsSubscription_Destroy(sub); }
};

void BM_nats_request_stakker(benchmark::State& state) {
  responder r;
  bridge b(state);
  const int64_t n = bench::size(20000);
  int64_t bad = 0;
  for (auto _ : state) {
    int64_t left = n;
    // Each answer sends the next request: one in flight at a time.
    std::function<void()> ask = [&] {
      b.conn->request(
          "bench.echo", "ping", std::chrono::seconds(5),
          ret_do<coro::result<nats::message>>([&](std::optional<coro::result<nats::message>> a) {
            if (!a || !a->has_value() || (*a)->data() != "ping") ++bad;
            if (--left > 0) ask();
          }));
    };
    ask();
    while (left > 0) b.lp.turn(std::chrono::milliseconds(10));
  }
  if (bad != 0) state.SkipWithError("a request failed");
  bench::per_op(state, n);
}
BENCHMARK(BM_nats_request_stakker)
    ->Name("BM_nats_request/stakker")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_nats_request_raw(benchmark::State& state) {
  responder r;
  raw_conn c{true};
  const int64_t n = bench::size(20000);
  int64_t bad = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) {
      natsMsg* reply = nullptr;
      if (natsConnection_RequestString(&reply, c.nc, "bench.echo", "ping", 5000) != NATS_OK) ++bad;
      natsMsg_Destroy(reply);
    }
  }
  if (bad != 0) state.SkipWithError("a request failed");
  bench::per_op(state, n);
}
BENCHMARK(BM_nats_request_raw)
    ->Name("BM_nats_request/raw_c_client")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

// --- a service answering from an actor, 1 and 2 instances -------------------------------

namespace {

struct squarer {
  static squarer init(cx<squarer>&) { return {}; }
  void square(cx<squarer>&, nats::message m, ret<nats::service_reply> r) {
    int64_t v = 0;
    for (char ch : m.data()) v = v * 10 + (ch - '0');
    r(nats::service_reply{std::to_string(v * v), {}});
  }
};

// One service instance: a thread with its own runtime, loop and connection (to the server
// as good as a process of its own), serving "bench.svc" in queue group "squarers" with an
// actor's member. Ready once its subscription is known to the server.
class service_instance {
 public:
  service_instance() : th_([this] { body(); }) {
    while (!ready_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~service_instance() {
    stop_.store(true);
    th_.join();
  }

 private:
  void body() {
    runtime rt;
    loop::epoll_loop lp(rt);
    nats::options o;
    o.servers = {the_server().url()};
    actor_own<squarer> actor = make_actor<&squarer::init>(rt, ret_nop<stop_cause>());
    nats::subscription svc;
    std::shared_ptr<nats::connection> conn;
    conn = nats::connection::connect(
        rt, o, fwd_nop<nats::event>(),
        ret_do<coro::result<void>>([&](std::optional<coro::result<void>> r) {
          if (!r || !r->has_value()) {
            ready_.store(true);
            return;
          }
          svc = nats::serve<&squarer::square>(*conn, "bench.svc", actor, "squarers");
          conn->request(
              "_bench.nobody", "", std::chrono::seconds(10),
              ret_do<coro::result<nats::message>>(
                  [&](std::optional<coro::result<nats::message>>) { ready_.store(true); }));
        }));
    while (!stop_.load()) lp.turn(std::chrono::milliseconds(5));
    svc.reset();
    conn.reset();
  }
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_{false};
  std::thread th_;
};

// Requests per second against `state.range(0)` instances, 64 in flight at a time.
void BM_nats_service(benchmark::State& state) {
  std::vector<std::unique_ptr<service_instance>> instances;
  for (int64_t i = 0; i < state.range(0); ++i)
    instances.push_back(std::make_unique<service_instance>());
  bridge b(state);
  const int64_t n = bench::size(50000);
  int64_t bad = 0;
  for (auto _ : state) {
    int64_t sent = 0, answered = 0;
    std::function<void()> ask = [&] {
      const int64_t v = sent++ % 1000;
      b.conn->request(
          "bench.svc", std::to_string(v), std::chrono::seconds(10),
          ret_do<coro::result<nats::message>>([&, v](std::optional<coro::result<nats::message>> a) {
            if (!a || !a->has_value() || (*a)->data() != std::to_string(v * v)) ++bad;
            ++answered;
            if (sent < n) ask();
          }));
    };
    b.rt.defer([&](core&) {
      for (int i = 0; i < 64 && sent < n; ++i) ask();
    });
    while (answered < n) b.lp.turn(std::chrono::milliseconds(10));
  }
  if (bad != 0) state.SkipWithError("a request failed");
  bench::per_op(state, n);
}
BENCHMARK(BM_nats_service)
    ->Name("BM_nats_service/stakker")
    ->ArgName("instances")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
