// SPDX-License-Identifier: MIT OR Apache-2.0
// A chat server on the embedded epoll loop, driven by a built-in load generator.
//
// One thread (the default): the server (a room actor, one actor per connection, an
// acceptor) runs on this thread's runtime, with no shard machinery at all. The load
// generator runs on a piped_thread: a second thread with a runtime and loop of its own,
// whose report comes back through the pipe. When it is in, the server shuts down and the
// figures are printed.
//
// --threads N > 1: the server runs on N shards (stakker::shard), each a thread with its own
// runtime and loop holding a replica of the room and the connections it took; the replicas
// forward what is said to one another (sharded.hpp), so every member hears every message,
// each sender's in the order said. Each shard listens on the same port (SO_REUSEPORT);
// --hand-off makes shard 0 accept alone and deal the descriptors round the shards instead.
// Measured at --threads 2 (100 clients x 1000 messages, medians of 3 on a busy 2-core
// machine) the two were within noise of each other: this load connects once and then
// talks, so accepting is a negligible part of it. SO_REUSEPORT is the default as the
// simpler: no cross-shard hop per connection and no slot to lend back (a handed-off
// connection's slot stays with shard 0's listener until it ends), and no single shard does
// every accept. Hand-off spreads exactly evenly; SO_REUSEPORT by a hash of the client's
// port. The load generator runs on this thread.
//
//   tools/dev demo [--clients N] [--messages M] [--window W] [--port P] [--threads N]
//   tools/dev demo --serve --port 7000      (no load; try it with `nc 127.0.0.1 7000`)
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../demo_support.hpp"
#include "load.hpp"
#include "server.hpp"
#include "sharded.hpp"
#include "stakker/shard/shards.hpp"
#include "stakker/sync/piped_thread.hpp"
#include "stakker/trace.hpp"
#if STAKKER_DEMO_OBSERVE
#include "stakker/observe/metrics_endpoint.hpp"
#include "stakker/observe/prometheus.hpp"
#include "stakker/observe/trace_json.hpp"
#endif

using namespace stakker;

namespace {

struct options {
  long clients = 100;
  long messages = 1000;
  long window = 4;
  long port = 0;
  long threads = 1;
  bool serve = false;
  bool hand_off = false;
  std::string trace;  // --trace FILE: the server's runtimes traced, written there at the end
  long trace_events = 1 << 20;
  long metrics_port = 0;  // --metrics-port P: Prometheus metrics served on 127.0.0.1:P
  long linger = 0;        // --linger S: after the load, serve S seconds more
};

const char usage[] =
    "usage: stakker_demo [--clients N] [--messages M] [--window W] [--port P] [--serve]\n"
    "  --clients N    load generator connections, 1..2000 (default 100)\n"
    "  --messages M   messages each client says, 1..1000000 (default 1000)\n"
    "  --window W     own messages in flight per client, 1..1000 (default 4)\n"
    "  --port P       loopback port to listen on, 0..65535 (default 0: any free port)\n"
    "  --threads N    server threads, 1..64 (default 1); above 1, shards sharing the room\n"
    "  --hand-off     with --threads above 1: shard 0 accepts and hands connections round\n"
    "                 the shards, instead of a listener per shard (SO_REUSEPORT)\n"
    "  --serve        no load generator: serve until interrupted (Ctrl-C)\n"
    "  --trace FILE   record a timeline of the server's runtimes (each shard's) and write it\n"
    "                 to FILE as Trace Event JSON: open it in https://ui.perfetto.dev or\n"
    "                 chrome://tracing, or draw it with tools/trace_view.py\n"
    "  --trace-events N  the trace's ring, per runtime, 1024..16777216 events (default\n"
    "                 1048576, 72 MiB): the last N events are kept\n"
    "  --metrics-port P  serve the server's metrics (every shard's) in Prometheus' text\n"
    "                 format on http://127.0.0.1:P/metrics\n"
    "  --linger S     after the load, keep serving S seconds more, 0..3600 (default 0)\n";

// Parses argv; nullopt (after printing why) if it is malformed.
std::optional<options> parse(int argc, char** argv) {
  options o;
  // --trace FILE takes a path: taken out here, the rest goes to the numeric parser.
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) != "--trace") {
      rest.push_back(argv[i]);
      continue;
    }
    if (i + 1 == argc || argv[i + 1][0] == '\0') {
      std::fprintf(stderr, "stakker_demo: --trace needs a file name\n%s", usage);
      return std::nullopt;
    }
    o.trace = argv[++i];
  }
  argc = static_cast<int>(rest.size());
  argv = rest.data();
  if (!demo::parse_options(argc, argv, "stakker_demo", usage,
                           {{"--clients", &o.clients, 1, 2000},
                            {"--messages", &o.messages, 1, 1'000'000},
                            {"--window", &o.window, 1, 1000},
                            {"--port", &o.port, 0, 65535},
                            {"--threads", &o.threads, 1, 64},
                            {"--trace-events", &o.trace_events, 1024, 1 << 24},
                            {"--metrics-port", &o.metrics_port, 1, 65535},
                            {"--linger", &o.linger, 0, 3600}},
                           {{"--serve", &o.serve}, {"--hand-off", &o.hand_off}}))
    return std::nullopt;
#if !STAKKER_DEMO_OBSERVE
  if (!o.trace.empty() || o.metrics_port != 0) {
    std::fprintf(stderr,
                 "stakker_demo: --trace and --metrics-port: this build has no stakker::observe "
                 "(it needs {fmt}: apt-get install libfmt-dev, then build again)\n");
    return std::nullopt;
  }
#endif
  return o;
}

// Returns whether the run was clean.
bool print_report(chat::load_report& r, const options& o, const chat::server_stats& s) {
  const double total = static_cast<double>(o.clients) * static_cast<double>(o.messages);
  std::printf("load: %ld clients x %ld messages (window %ld) in %.2f s\n", o.clients, o.messages,
              o.window, r.seconds);
  if (o.threads == 1)
    std::printf("threads: 1 server thread, the load generator on one more\n");
  else
    std::printf("threads: %ld server threads (%s), the load generator on one more\n", o.threads,
                o.hand_off ? "shard 0 hands connections off" : "a SO_REUSEPORT listener each");
  std::printf("throughput: %.0f messages/s said, %.0f lines/s delivered (fan-out to %ld)\n",
              total / r.seconds, static_cast<double>(r.lines_received) / r.seconds, o.clients);
  std::printf("latency (say -> own echo): p50 %.0f us, p99 %.0f us, max %.0f us\n",
              demo::percentile_us(r.latency_ns, 0.50), demo::percentile_us(r.latency_ns, 0.99),
              demo::percentile_us(r.latency_ns, 1.0));
  std::printf(
      "server: %llu connections, %llu messages, %llu broadcast batches, %llu dropped\n",
      static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(s.messages),
      static_cast<unsigned long long>(s.broadcasts), static_cast<unsigned long long>(s.dropped));
  for (const auto& f : r.failures) std::printf("failure: %s\n", f.c_str());
  return r.failures.empty() && r.latency_ns.size() == static_cast<std::size_t>(total) &&
         s.messages == static_cast<std::uint64_t>(total) && s.dropped == 0;
}

// --trace: writes the runtimes' traces to o.trace and says what is in it.
void write_trace([[maybe_unused]] const options& o,
                 [[maybe_unused]] const std::vector<trace_snapshot>& traces) {
#if STAKKER_DEMO_OBSERVE
  std::size_t events = 0;
  std::uint64_t lost = 0;
  for (const auto& t : traces) {
    events += t.events.size();
    lost += t.overwritten;
  }
  try {
    observe::write_trace_json(o.trace, traces);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stakker_demo: --trace: %s\n", e.what());
    return;
  }
  std::printf(
      "trace: %zu events of %zu runtime(s) (%llu older ones overwritten) in %s: open it in "
      "https://ui.perfetto.dev, or draw it with tools/trace_view.py\n",
      events, traces.size(), static_cast<unsigned long long>(lost), o.trace.c_str());
#endif
}

// Each shard's trace, read on its own thread (the load is done, the shards still run).
// Shared with the closures: one that comes after the wait gave up finds it still alive.
std::vector<trace_snapshot> read_traces(shard::shards& group) {
  struct collected {
    std::mutex m;
    std::condition_variable done;
    std::vector<trace_snapshot> traces;
    std::size_t left;
  };
  auto c = std::make_shared<collected>();
  c->traces.resize(group.size());
  c->left = group.size();
  for (std::size_t i = 0; i < group.size(); ++i) {
    const bool posted = group.on(i, [c, i](shard::context& x) {
      x.core().trace_stop();
      trace_snapshot t = x.core().trace_read();
      std::lock_guard<std::mutex> lock(c->m);
      c->traces[i] = std::move(t);
      if (--c->left == 0) c->done.notify_one();
    });
    if (!posted) {
      std::lock_guard<std::mutex> lock(c->m);
      --c->left;
    }
  }
  std::unique_lock<std::mutex> lock(c->m);
  if (!c->done.wait_for(lock, std::chrono::seconds(30), [&] { return c->left == 0; }))
    std::fprintf(stderr, "stakker_demo: --trace: a shard did not answer; its trace is missing\n");
  std::vector<trace_snapshot> out = c->traces;
  std::erase_if(out, [](const trace_snapshot& t) { return t.runtime == 0; });
  return out;
}

#if STAKKER_DEMO_OBSERVE
observe::metrics_endpoint_options metrics_options(const options& o) {
  observe::metrics_endpoint_options m;
  m.port = static_cast<std::uint16_t>(o.metrics_port);
  return m;
}

// --metrics-port with shards: each shard puts its runtime's metrics here every 250 ms (they
// are read on the runtime's own thread); shard 0's endpoint serves the latest of each.
struct metrics_board {
  std::mutex m;
  std::vector<runtime_metrics> latest;
  explicit metrics_board(std::size_t n) : latest(n) {}
  void put(std::size_t i, runtime_metrics r) {
    std::lock_guard<std::mutex> lock(m);
    latest[i] = std::move(r);
  }
  std::string text() {
    std::vector<runtime_metrics> copy;
    {
      std::lock_guard<std::mutex> lock(m);
      copy = latest;
    }
    std::erase_if(copy, [](const runtime_metrics& r) { return r.runtime == 0; });
    return observe::prometheus_text(copy);
  }
};
struct metrics_publisher {
  std::shared_ptr<metrics_board> board;
  std::size_t index;
  void operator()(core& c) {
    board->put(index, c.metrics());
    c.after(std::chrono::milliseconds(250), *this);
  }
};
// Kept in shard 0's anymap, so that it lives and goes with that shard's loop.
struct metrics_server {
  std::shared_ptr<observe::metrics_endpoint> endpoint;
};
#endif

// One thread: the server on this thread's runtime, the load generator on a piped_thread.
int run_one_thread(const options& o, const loop::unique_fd& sigfd) {
  runtime rt;
  loop::epoll_loop lp(rt);
  loop::fd_source on_signal = lp.add(sigfd.get(), EPOLLIN, loop::epoll_loop::max_priority,
                                     fwd_do<std::uint32_t>([&](std::uint32_t) {
                                       rt.shutdown(stop_cause::killed("interrupted"));
                                     }));

  if (!o.trace.empty()) rt.trace_start(static_cast<std::size_t>(o.trace_events));
  chat::server_stats stats;
  const auto at = loop::socket_address::loopback_v4(static_cast<std::uint16_t>(o.port));
  auto srv =
      make_actor<&chat::server::init>(rt, ret_shutdown(rt), at, chat::server_limits{}, &stats);
  rt.run(clock::now(), false);  // runs the init: the listener is bound after this
  if (rt.is_shutdown()) {
    std::fprintf(stderr, "stakker_demo: %s\n", rt.shutdown_cause()->text().c_str());
    return 1;
  }
  std::uint16_t port = 0;
  inspect(rt, srv, [&](chat::server& s) { port = s.port(); });
  std::printf("chat server on 127.0.0.1:%u: a room actor and one actor per connection\n", port);
#if STAKKER_DEMO_OBSERVE
  // Serves rt.metrics() (and turns them on) on this runtime's own loop.
  std::optional<observe::metrics_endpoint> metrics;
  if (o.metrics_port != 0) {
    try {
      metrics.emplace(lp, rt, metrics_options(o));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "stakker_demo: --metrics-port: %s\n", e.what());
      return 1;
    }
    std::printf("metrics: http://127.0.0.1:%u/metrics\n", metrics->port());
  }
#endif

  if (o.serve) {
    std::printf("serving until interrupted (Ctrl-C); try: nc 127.0.0.1 %u\n", port);
    std::fflush(stdout);
    std::printf("shutdown: %s\n", lp.run().text().c_str());
    return 0;
  }

  // The load generator on its own thread; its report comes back through the pipe.
  std::optional<chat::load_report> report;
  chat::load_options load{at, static_cast<int>(o.clients), static_cast<int>(o.messages),
                          static_cast<int>(o.window)};
  load.server = loop::socket_address::loopback_v4(port);
  piped_thread<int, chat::load_report> generator(
      rt, fwd_do<chat::load_report>([&](chat::load_report r) { report = std::move(r); }),
      fwd_do<std::optional<std::string>>([&](std::optional<std::string> error) {
        if (error) std::fprintf(stderr, "load generator failed: %s\n", error->c_str());
        if (o.linger == 0 || error) {
          rt.shutdown(stop_cause::stopped());
          return;
        }
        std::printf("load done; serving %ld s more (--linger)\n", o.linger);
        std::fflush(stdout);
        rt.after(std::chrono::seconds(o.linger),
                 [](core& c) { c.shutdown(stop_cause::stopped()); });
      }),
      [load](piped_link<int, chat::load_report>& link) {
        link.send(chat::run_load(load, [&link] { return link.cancelled(); }));
      });
  std::printf(
      "load generator: %ld clients x %ld messages on a second thread with its own "
      "runtime and loop\n",
      o.clients, o.messages);
  std::fflush(stdout);

  const stop_cause cause = lp.run();
  if (!o.trace.empty()) write_trace(o, {rt.trace_read()});
  bool clean = report && print_report(*report, o, stats);
  std::printf("shutdown: %s\n", cause.text().c_str());
  clean = clean && !cause.has_error();
  return clean ? 0 : 1;
}

// The cause to report for the group: the first error among the shards', else shard 0's.
stop_cause group_cause(const std::vector<stop_cause>& causes) {
  for (const stop_cause& c : causes)
    if (c.has_error()) return c;
  return causes.front();
}

// Shard 0 watches the signalfd (kept in its anymap); its shutdown stops every shard.
struct signal_watch {
  loop::fd_source source;
};

// --threads N > 1: the server on N shards, the load generator on this thread.
int run_sharded(const options& o, const loop::unique_fd& sigfd) {
  std::vector<chat::server_stats> stats;  // written by the shards until they stop
  shard::shards group({.threads = static_cast<std::size_t>(o.threads)});
  std::uint16_t port = 0;
  try {
    port = chat::start_sharded(
        group, static_cast<std::uint16_t>(o.port), chat::server_limits{}, stats,
        o.hand_off ? chat::accept_mode::hand_off : chat::accept_mode::reuse_port);
  } catch (const std::exception& e) {
    group.stop(stop_cause::failed(e.what()));
    std::fprintf(stderr, "stakker_demo: %s\n", group_cause(group.join()).text().c_str());
    return 1;
  }
  if (!o.trace.empty())
    group.on_each([n = static_cast<std::size_t>(o.trace_events)](shard::context& c) {
      c.core().trace_start(n);
    });
#if STAKKER_DEMO_OBSERVE
  if (o.metrics_port != 0) {
    auto board = std::make_shared<metrics_board>(group.size());
    group.on_each([board](shard::context& c) {
      c.core().metrics_enable();
      metrics_publisher{board, c.index()}(c.core());
    });
    group.on(0, [board, m = metrics_options(o)](shard::context& c) {
      try {
        c.core().anymap_set(metrics_server{std::make_shared<observe::metrics_endpoint>(
            c.loop(), [board] { return board->text(); }, m)});
      } catch (const std::exception& e) {
        std::fprintf(stderr, "stakker_demo: --metrics-port: %s\n", e.what());
        c.core().shutdown(stop_cause::failed(e.what()));
      }
    });
    std::printf("metrics: http://127.0.0.1:%ld/metrics (every shard's)\n", o.metrics_port);
  }
#endif
  group.on(0, [fd = sigfd.get()](shard::context& c) {
    core& rt = c.core();
    rt.anymap_set(signal_watch{c.loop().add(fd, EPOLLIN, loop::epoll_loop::max_priority,
                                            fwd_do<std::uint32_t>([&rt](std::uint32_t) {
                                              rt.shutdown(stop_cause::killed("interrupted"));
                                            }))});
  });
  std::printf(
      "chat server on 127.0.0.1:%u: %ld shards, each a replica of the room and one actor per "
      "connection\n",
      port, o.threads);

  if (o.serve) {
    std::printf("serving until interrupted (Ctrl-C); try: nc 127.0.0.1 %u\n", port);
    std::fflush(stdout);
    std::printf("shutdown: %s\n", group_cause(group.join()).text().c_str());
    return 0;
  }

  chat::load_options load{loop::socket_address::loopback_v4(port), static_cast<int>(o.clients),
                          static_cast<int>(o.messages), static_cast<int>(o.window)};
  std::printf(
      "load generator: %ld clients x %ld messages on this thread with its own runtime and loop\n",
      o.clients, o.messages);
  std::fflush(stdout);
  // Cancelled if the shards stop first (Ctrl-C, or a server failing).
  chat::load_report report = chat::run_load(load, [&group] { return group.stopped(); });
  if (o.linger > 0) {
    std::printf("load done; serving %ld s more (--linger)\n", o.linger);
    std::fflush(stdout);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(o.linger);
    while (!group.stopped() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!o.trace.empty()) write_trace(o, read_traces(group));
  group.stop(stop_cause::stopped());
  const stop_cause cause = group_cause(group.join());  // the shards' stats are final now
  bool clean = print_report(report, o, chat::total(stats));
  std::printf("shutdown: %s\n", cause.text().c_str());
  clean = clean && !cause.has_error();
  return clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<options> opt = parse(argc, argv);
  if (!opt) return 2;

  // SIGINT and SIGTERM arrive through a signalfd on the loop, so Ctrl-C is an orderly
  // shutdown. Blocked before any thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  loop::unique_fd sigfd(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));

  return opt->threads == 1 ? run_one_thread(*opt, sigfd) : run_sharded(*opt, sigfd);
}
