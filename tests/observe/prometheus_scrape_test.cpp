// SPDX-License-Identifier: MIT OR Apache-2.0
// A real Prometheus server (Debian's prometheus, started per test on a free loopback port)
// scrapes a metrics_endpoint every second; the test reads the scraped value back through
// Prometheus' HTTP query API. Skipped when there is no prometheus binary.
#include "stakker/observe/metrics_endpoint.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "demo_process.hpp"
#include "observe/http_client.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/stakker.hpp"

#if defined(STAKKER_HAVE_NLOHMANN_JSON)
#include <nlohmann/json.hpp>
#endif

namespace {

using namespace std::chrono_literals;

#if defined(STAKKER_PROMETHEUS) && defined(STAKKER_HAVE_NLOHMANN_JSON)
constexpr const char* prometheus_path = STAKKER_PROMETHEUS;
#else
constexpr const char* prometheus_path = nullptr;
#endif

// An actor whose calls the runtime counts.
class tally {
 public:
  static tally init(stakker::cx<tally>&) { return tally(); }
  void add(stakker::cx<tally>&, int n) { total_ += n; }
  void total(stakker::cx<tally>&, stakker::ret<int> r) { r(total_); }

 private:
  int total_ = 0;
};

// A temporary directory, removed with what it holds.
struct temp_dir {
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("stakker-prometheus-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::filesystem::path path;
};

// A Prometheus server on a free loopback port, scraping `target` every second as job
// "stakker", with its storage in `dir`; stopped with the object.
struct prometheus_server {
  int port = demo::free_port();
  std::optional<demo::child_process> process;

  prometheus_server(const temp_dir& dir, std::uint16_t target) {
    const auto config = dir.path / "prometheus.yml";
    std::ofstream(config) << "global:\n"
                             "  scrape_interval: 1s\n"
                             "  scrape_timeout: 1s\n"
                             "scrape_configs:\n"
                             "  - job_name: stakker\n"
                             "    static_configs:\n"
                             "      - targets: ['127.0.0.1:"
                          << target << "']\n";
    process.emplace(
        std::vector<std::string>{prometheus_path, "--config.file=" + config.string(),
                                 "--storage.tsdb.path=" + (dir.path / "data").string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port)},
        std::getenv("STAKKER_PROMETHEUS_LOG") == nullptr);
  }
};

// The value of `query` for job "stakker" from Prometheus' instant query API, if it has one.
std::optional<double> query(std::uint16_t port, const std::string& q) {
#if defined(STAKKER_HAVE_NLOHMANN_JSON)
  const auto r = observe_test::blocking_get(port, "/api/v1/query?query=" + q);
  if (!r || r->status != 200) return std::nullopt;
  const nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") return std::nullopt;
  for (const auto& sample : j["data"]["result"]) {
    if (sample["metric"].value("job", "") != "stakker") continue;
    return std::stod(sample["value"][1].get<std::string>());
  }
#else
  (void)port;
  (void)q;
#endif
  return std::nullopt;
}

TEST(prometheus_scrape, a_real_prometheus_scrapes_the_endpoint_and_reads_calls_run) {
  if (prometheus_path == nullptr || !std::filesystem::exists(prometheus_path))
    GTEST_SKIP() << "no prometheus (apt-get install prometheus) or no nlohmann-json";
  constexpr int calls = 1000;

  // The runtime on a thread of its own: actor work first, then the endpoint, served until
  // `stop`. Everything of the runtime is made, used and destroyed on that thread.
  std::promise<std::uint16_t> bound;
  std::atomic<bool> stop{false};
  std::thread runtime_thread([&] {
    stakker::runtime rt;
    stakker::loop::epoll_loop loop(rt);
    // Serves rt.metrics(), and enables them: the calls below are counted.
    stakker::observe::metrics_endpoint endpoint(loop, rt);
    auto t = stakker::make_actor<&tally::init>(rt, stakker::ret_nop<stakker::stop_cause>());
    for (int i = 0; i < calls; ++i) stakker::call<&tally::add>(t, 1);
    std::optional<int> total;
    stakker::call<&tally::total>(t, stakker::ret_do<int>([&](std::optional<int> v) { total = v; }));
    while (!total) loop.turn(10ms);
    bound.set_value(endpoint.port());
    while (!stop.load()) loop.turn(20ms);
  });
  struct joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~joiner() {
      stop = true;
      t.join();
    }
  } join{stop, runtime_thread};
  const std::uint16_t endpoint_port = bound.get_future().get();

  temp_dir dir;
  prometheus_server server(dir, endpoint_port);
  const int port = server.port;
  demo::child_process& prometheus = *server.process;
  ASSERT_TRUE(prometheus.wait_listening(port, 20s)) << "prometheus did not start listening";

  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::optional<double> seen;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = query(static_cast<std::uint16_t>(port), "stakker_calls_run_total");
    if (seen && *seen >= calls) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(seen) << "prometheus never reported stakker_calls_run_total";
  EXPECT_GE(*seen, calls);
  EXPECT_EQ(query(static_cast<std::uint16_t>(port), "stakker_actors_alive"), 1.0);
  EXPECT_EQ(query(static_cast<std::uint16_t>(port), "up"), 1.0) << "the scrape is healthy";
  EXPECT_EQ(prometheus.stop(), 0) << "prometheus ends cleanly on SIGTERM";
}

// The chat demo on two shards serves every shard's metrics (--metrics-port) while its load
// runs and for a while after (--linger); Prometheus scrapes the demo process itself.
TEST(prometheus_scrape, a_real_prometheus_scrapes_the_chat_demo_on_two_shards) {
#if defined(STAKKER_DEMO_PROGRAM)
  if (prometheus_path == nullptr || !std::filesystem::exists(prometheus_path))
    GTEST_SKIP() << "no prometheus (apt-get install prometheus) or no nlohmann-json";
  const int metrics_port = demo::free_port();
  temp_dir dir;
  prometheus_server server(dir, static_cast<std::uint16_t>(metrics_port));
  ASSERT_TRUE(server.process->wait_listening(server.port, 20s))
      << "prometheus did not start listening";
  // 10 clients x 300 messages: each message is at least a call on its connection's actor
  // and one on the room's.
  demo::child_process chat(
      {STAKKER_DEMO_PROGRAM, "--threads", "2", "--clients", "10", "--messages", "300",
       "--metrics-port", std::to_string(metrics_port), "--linger", "60"},
      true);
  ASSERT_TRUE(chat.wait_listening(metrics_port, 20s)) << "the demo's endpoint did not start";
  const auto port = static_cast<std::uint16_t>(server.port);
  const auto deadline = std::chrono::steady_clock::now() + 40s;
  std::optional<double> calls, runtimes;
  while (std::chrono::steady_clock::now() < deadline) {
    calls = query(port, "sum+by(job)(stakker_calls_run_total)");
    runtimes = query(port, "count+by(job)(stakker_actors_alive)");
    if (calls && *calls >= 6000 && runtimes == 2.0) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(calls) << "prometheus never reported stakker_calls_run_total for the demo";
  EXPECT_GE(*calls, 6000);
  EXPECT_EQ(runtimes, 2.0) << "one series per shard";
  EXPECT_EQ(query(port, "up"), 1.0);
  chat.stop();
  EXPECT_EQ(server.process->stop(), 0);
#else
  GTEST_SKIP() << "the examples are not built (no stakker_demo to scrape)";
#endif
}

}  // namespace
