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
  const int port = demo::free_port();
  const auto config = dir.path / "prometheus.yml";
  std::ofstream(config) << "global:\n"
                           "  scrape_interval: 1s\n"
                           "  scrape_timeout: 1s\n"
                           "scrape_configs:\n"
                           "  - job_name: stakker\n"
                           "    static_configs:\n"
                           "      - targets: ['127.0.0.1:"
                        << endpoint_port << "']\n";
  demo::child_process prometheus({prometheus_path, "--config.file=" + config.string(),
                                  "--storage.tsdb.path=" + (dir.path / "data").string(),
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                                 std::getenv("STAKKER_PROMETHEUS_LOG") == nullptr);
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

}  // namespace
