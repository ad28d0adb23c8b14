// SPDX-License-Identifier: MIT OR Apache-2.0
// The key-value example's server (examples/asio_kv: an acceptor actor, a store actor, one
// actor and task per connection, on a runtime driven by stakker::asio::io_loop) against the
// same protocol served with plain Asio coroutines (peers/asio_kv_plain_server.hpp: co_spawn,
// use_awaitable, a std::unordered_map), in the same run. Target: ours ≥ 1.0× the peer's
// requests per second.
//
// Each server runs on a thread of its own, on an io_context with concurrency hint 1 (one
// thread runs it), listening on 127.0.0.1, port 0. The client is the same code for both: the
// example's load generator (kv::run_load) on the benchmark thread, on a runtime and io_loop
// of its own. Its clients connect, then each makes `rounds` rounds of a SET of fresh bytes
// and a GET of the same key, one request at a time, checking every reply byte for byte; then
// DEL of its keys (4), QUIT, BYE and the end of the stream. Any failure skips the benchmark
// with an error; after each run the server's own counts are checked too (connections,
// requests, nothing rejected or broken, no key left).
//
// Names: BM_asio_kv/clients:C/value:V/<server>, <server> = asio_plain (the peer, registered
// first) or stakker. One iteration is one whole load run; the time is the load generator's
// (first connect to last close), so items_per_second is requests answered per second. Each
// benchmark runs a fixed number of iterations, so every run of it in this process is a
// reported repetition. Counters:
//   server_cpu_ns_per_req  the server thread's CPU time (user + kernel) per request: what
//                          the server itself spends, less sensitive than the wall time to
//                          other load on the machine and to the client's speed;
//   client_cpu_ns_per_req  the same for the load generator's thread;
//   x_peer                 (ours) requests/s over the median of the peer's runs of the same
//                          configuration, measured before it in this process (> 1: ours
//                          serves more);
//   x_peer_server_cpu      (ours) server_cpu_ns_per_req over the peer's median (< 1: ours
//                          spends less per request).
// At exit, a summary table (medians, min–max, ratios of medians) goes to stderr. `--smoke`
// makes every run tiny (at most 2 clients, 3 rounds).
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asio_kv/load.hpp"
#include "asio_kv/server.hpp"
#include "asio_kv/server_stats.hpp"
#include "asio_kv/teardown.hpp"
#include "bench_support.hpp"
#include "peers/asio_kv_plain_server.hpp"
#include "stakker/asio/asio.hpp"
#include "stakker/stakker.hpp"
#include "stakker/sync/waker.hpp"

namespace {

namespace net = stakker::asio::net;
using tcp = net::ip::tcp;

// CPU time a thread has used so far (nanoseconds); -1 if unknown.
std::int64_t thread_cpu_ns(pthread_t thread) {
  clockid_t clock;
  timespec ts{};
  if (::pthread_getcpuclockid(thread, &clock) != 0 || ::clock_gettime(clock, &ts) != 0) return -1;
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

const tcp::endpoint any_loopback_port(net::ip::address_v4::loopback(), 0);

// --- The servers under test. Each starts on construction (its port is known once the
// constructor returns), stops and joins its thread on destruction, and fills the stats it is
// given; they may be read once it is destroyed.

// Ours: the example's server actor, set up as examples/asio_kv/main.cpp sets it up.
class stakker_kv_server {
 public:
  static constexpr const char* name = "stakker";

  explicit stakker_kv_server(kv::server_stats* stats) {
    std::promise<std::uint16_t> bound;
    auto port = bound.get_future();
    thread_ = std::thread([this, stats, &bound] {
      net::io_context ioc(1);
      stakker::runtime rt;
      stakker::asio::io_loop loop(ioc, rt);
      stop_ = rt.waker([](stakker::core& c, bool deleted) {
        if (!deleted) c.shutdown(stakker::stop_cause::stopped());
      });
      auto srv = stakker::make_actor<&kv::server::init>(rt, stakker::ret_shutdown(rt),
                                                        any_loopback_port, stats);
      loop.request_run();
      ioc.poll();  // runs the server's init: the acceptor is bound (or the runtime shut down)
      const std::optional<std::uint16_t> p =
          stakker::inspect(rt, srv, [](kv::server& s) { return s.port(); });
      if (p) {
        bound.set_value(*p);
        loop.run();
      } else {
        bound.set_exception(std::make_exception_ptr(std::runtime_error("kv server not ready")));
      }
      srv.reset();
      kv::drain(loop);
    });
    try {
      port_ = port.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~stakker_kv_server() {
    stop_.wake();
    thread_.join();
  }
  stakker_kv_server(const stakker_kv_server&) = delete;
  stakker_kv_server& operator=(const stakker_kv_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  pthread_t thread() { return thread_.native_handle(); }

 private:
  std::thread thread_;
  stakker::waker stop_;  // set on the server thread before the port is handed over
  std::uint16_t port_ = 0;
};

// The peer: plain Asio coroutines on a bare io_context, stopped with io_context::stop.
class plain_kv_server {
 public:
  static constexpr const char* name = "asio_plain";

  explicit plain_kv_server(kv::server_stats* stats)
      : stats_(stats), server_(ioc_, any_loopback_port), thread_([this] { ioc_.run(); }) {}
  ~plain_kv_server() {
    ioc_.stop();
    thread_.join();
    *stats_ = server_.stats();
  }
  plain_kv_server(const plain_kv_server&) = delete;
  plain_kv_server& operator=(const plain_kv_server&) = delete;

  std::uint16_t port() const noexcept { return server_.port(); }
  pthread_t thread() { return thread_.native_handle(); }

 private:
  kv::server_stats* stats_;
  net::io_context ioc_{1};  // one thread runs it
  bench::kv_plain::server server_;
  std::thread thread_;  // last: starts once the rest exists
};

// --- The in-process record of each benchmark's runs, for the ratios and the summary.

struct record_book {
  struct entry {
    std::string config, server;
    std::vector<double> rate;        // requests per second of each run
    std::vector<double> server_cpu;  // server thread CPU ns per request of each run
  };
  std::vector<entry> entries;

  entry* find(const std::string& config, const std::string& server) {
    for (auto& e : entries)
      if (e.config == config && e.server == server) return &e;
    return nullptr;
  }
  void add(const std::string& config, const std::string& server, double rate, double cpu) {
    entry* e = find(config, server);
    if (e == nullptr) {
      entries.push_back({config, server, {}, {}});
      e = &entries.back();
    }
    e->rate.push_back(rate);
    e->server_cpu.push_back(cpu);
  }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
  }

  ~record_book() {
    if (entries.empty()) return;
    // By configuration, the peer first (the runs may have been interleaved).
    std::stable_sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) {
      return a.config != b.config ? a.config < b.config
                                  : (a.server == "asio_plain" && b.server != "asio_plain");
    });
    std::fprintf(stderr,
                 "\nKey-value server vs plain Asio coroutines (this process): requests/s and "
                 "server thread CPU ns per request, median and min-max over each benchmark's "
                 "runs; ratios of medians, ours over the peer\n");
    std::fprintf(stderr, "%-22s %-10s %9s %15s %9s %13s %8s %8s\n", "config", "server", "req/s",
                 "min-max", "srv_ns", "min-max", "x_req/s", "x_srv_ns");
    for (auto& e : entries) {
      const auto [rlo, rhi] = std::minmax_element(e.rate.begin(), e.rate.end());
      const auto [clo, chi] = std::minmax_element(e.server_cpu.begin(), e.server_cpu.end());
      char rates[48], cpus[48], x_rate[16] = "-", x_cpu[16] = "-";
      std::snprintf(rates, sizeof rates, "%.0f-%.0f", *rlo, *rhi);
      std::snprintf(cpus, sizeof cpus, "%.0f-%.0f", *clo, *chi);
      if (e.server != "asio_plain") {
        if (entry* p = find(e.config, "asio_plain")) {
          std::snprintf(x_rate, sizeof x_rate, "%.2f", median(e.rate) / median(p->rate));
          std::snprintf(x_cpu, sizeof x_cpu, "%.2f", median(e.server_cpu) / median(p->server_cpu));
        }
      }
      std::fprintf(stderr, "%-22s %-10s %9.0f %15s %9.0f %13s %8s %8s  (%zu runs)\n",
                   e.config.c_str(), e.server.c_str(), median(e.rate), rates, median(e.server_cpu),
                   cpus, x_rate, x_cpu, e.rate.size());
    }
  }
};

record_book& book() {
  static record_book b;
  return b;
}

// --- The workload.

struct config {
  int clients;
  std::size_t value_size;
  int rounds;      // SET+GET pairs per client per iteration
  int iterations;  // load runs per repetition

  std::string name() const {
    return "clients:" + std::to_string(clients) + "/value:" + std::to_string(value_size);
  }
};

config effective(config c) {
  if (bench::smoke()) {
    c.clients = std::min(c.clients, 2);
    c.rounds = 3;
  }
  return c;
}

// What one load run must get answered: every round's SET and GET, a DEL per key, QUIT.
std::uint64_t requests_per_run(const kv::load_options& opt) {
  const int keys = std::max(1, std::min(opt.keys, opt.rounds));
  return static_cast<std::uint64_t>(opt.clients) *
         static_cast<std::uint64_t>(2 * opt.rounds + keys + 1);
}

// Empty if the run went right, else what went wrong.
std::string check(const kv::load_report& r, const kv::load_options& opt) {
  if (!r.failures.empty()) return "load: " + r.failures.front();
  if (r.requests != requests_per_run(opt)) return "load: wrong number of requests answered";
  if (r.values_checked !=
      static_cast<std::uint64_t>(opt.clients) * static_cast<std::uint64_t>(opt.rounds))
    return "load: wrong number of values checked";
  return {};
}

// The untimed run before the timed ones: every client, two rounds.
kv::load_options warm_up(kv::load_options opt) {
  opt.rounds = 2;
  return opt;
}

template <class Server>
void kv_bench(benchmark::State& state, config cfg) {
  const std::string config_name = cfg.name();  // as registered, also under --smoke
  cfg = effective(cfg);
  const auto never = [] { return false; };
  kv::server_stats stats;
  kv::load_options opt;
  opt.clients = cfg.clients;
  opt.rounds = cfg.rounds;
  opt.value_size = cfg.value_size;
  std::string error;
  double seconds = 0;
  std::int64_t server_ns = 0, client_ns = 0;
  int runs = 0;
  {
    Server server(&stats);
    opt.server = tcp::endpoint(net::ip::address_v4::loopback(), server.port());
    // Untimed: a short run with every client, so the server and the allocators are warm.
    const kv::load_options warm = warm_up(opt);
    error = check(kv::run_load(warm, never), warm);
    const std::int64_t s0 = thread_cpu_ns(server.thread());
    const std::int64_t c0 = thread_cpu_ns(pthread_self());
    for (auto _ : state) {
      if (!error.empty()) continue;
      const kv::load_report r = kv::run_load(opt, never);
      state.SetIterationTime(r.seconds);
      seconds += r.seconds;
      error = check(r, opt);
      ++runs;
    }
    server_ns = thread_cpu_ns(server.thread()) - s0;
    client_ns = thread_cpu_ns(pthread_self()) - c0;
  }
  // The server's own counts, once it has stopped: the warm-up and every run.
  if (error.empty()) {
    const auto all_runs = static_cast<std::uint64_t>(runs);
    const std::uint64_t requests =
        requests_per_run(warm_up(opt)) + all_runs * requests_per_run(opt);
    const auto connections = static_cast<std::uint64_t>(opt.clients) * (all_runs + 1);
    if (stats.requests != requests || stats.connections != connections || stats.rejected != 0 ||
        stats.broken != 0 || stats.keys != 0)
      error = "server: wrong counts (requests, connections, rejected, broken or keys left)";
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  const double requests = static_cast<double>(runs) * static_cast<double>(requests_per_run(opt));
  state.SetItemsProcessed(static_cast<std::int64_t>(requests));
  const double rate = requests / seconds;
  const double server_cpu = static_cast<double>(server_ns) / requests;
  state.counters["server_cpu_ns_per_req"] = server_cpu;
  state.counters["client_cpu_ns_per_req"] = static_cast<double>(client_ns) / requests;
  if (std::string(Server::name) != "asio_plain") {
    if (record_book::entry* p = book().find(config_name, "asio_plain")) {
      state.counters["x_peer"] = rate / record_book::median(p->rate);
      state.counters["x_peer_server_cpu"] = server_cpu / record_book::median(p->server_cpu);
    }
  }
  book().add(config_name, Server::name, rate, server_cpu);
}

// Peer first, so that ours can be compared with it as it runs.
[[maybe_unused]] const bool registered = [] {
  const config configs[] = {
      {50, 64, 400, 2},    // many clients, small values
      {50, 4096, 300, 2},  // many clients, 4 KiB values
      {1, 64, 4000, 2},    // one client: each request waits for the last (latency)
  };
  for (const config& c : configs) {
    auto add = [&c](const char* server, void (*fn)(benchmark::State&, config)) {
      benchmark::RegisterBenchmark(("BM_asio_kv/" + c.name() + "/" + server).c_str(), fn, c)
          ->Iterations(c.iterations)  // registered before --smoke is seen
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    };
    add(plain_kv_server::name, &kv_bench<plain_kv_server>);
    add(stakker_kv_server::name, &kv_bench<stakker_kv_server>);
  }
  return true;
}();

}  // namespace
