// SPDX-License-Identifier: MIT OR Apache-2.0
// A key-value server on Asio, driven by a built-in load generator, all on loopback.
//
// The server (an acceptor actor owning the store, one actor per connection, each connection's
// protocol a task tied to its actor) runs on this thread's runtime, which an Asio io_context
// drives (stakker::asio::io_loop). The load generator runs on a piped_thread: a second thread
// with an io_context, runtime and io_loop of its own, whose report comes back through the
// pipe. When it is in, the server shuts down and the figures are printed.
//
//   tools/dev demo asio [--clients N] [--requests M] [--value-size BYTES] [--port P]
//   tools/dev demo asio --serve --port 7000     (no load; try `nc -C 127.0.0.1 7000`)
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "../demo_support.hpp"
#include "load.hpp"
#include "server.hpp"
#include "stakker/sync/piped_thread.hpp"
#include "teardown.hpp"

namespace {

namespace net = stakker::asio::net;

struct options {
  long clients = 100;
  long requests = 300;
  long value_size = 1024;
  long port = 0;
  bool serve = false;
};

// Bounds what the store and the clients hold at once (clients x 4 keys x value size).
constexpr long max_load_bytes = 256L << 20;

const char usage[] =
    "usage: stakker_asio_demo [--clients N] [--requests M] [--value-size BYTES] [--port P]\n"
    "                         [--serve]\n"
    "  --clients N         load generator connections, 1..2000 (default 100)\n"
    "  --requests M        SET+GET pairs each client makes, each GET checking the value just\n"
    "                      SET, 1..1000000 (default 300)\n"
    "  --value-size BYTES  size of each value, 0..16777216 (default 1024); clients x BYTES\n"
    "                      may be at most 268435456\n"
    "  --port P            loopback port to listen on, 0..65535 (default 0: any free port)\n"
    "  --serve             no load generator: serve until interrupted (Ctrl-C)\n";

// Parses argv; nullopt (after printing why) if it is malformed.
std::optional<options> parse(int argc, char** argv) {
  options o;
  if (!demo::parse_options(argc, argv, "stakker_asio_demo", usage,
                           {{"--clients", &o.clients, 1, 2000},
                            {"--requests", &o.requests, 1, 1'000'000},
                            {"--value-size", &o.value_size, 0, 16L << 20},
                            {"--port", &o.port, 0, 65535}},
                           {{"--serve", &o.serve}}))
    return std::nullopt;
  if (o.clients * o.value_size > max_load_bytes) {
    std::fprintf(stderr, "stakker_asio_demo: --clients x --value-size exceeds %ld\n%s",
                 max_load_bytes, usage);
    return std::nullopt;
  }
  return o;
}

// Prints the figures; returns whether the run was clean.
bool print_report(kv::load_report& r, const kv::load_options& o, const kv::server_stats& s) {
  const std::uint64_t clients = static_cast<std::uint64_t>(o.clients);
  const std::uint64_t rounds = static_cast<std::uint64_t>(o.rounds);
  const std::uint64_t keys = static_cast<std::uint64_t>(std::max(1, std::min(o.keys, o.rounds)));
  const std::uint64_t expected = clients * (2 * rounds + keys + 1);
  const double seconds = std::max(r.seconds, 1e-9);
  std::printf(
      "load: %llu clients x %llu SET+GET pairs of %zu-byte values: %llu requests in %.2f s\n",
      static_cast<unsigned long long>(clients), static_cast<unsigned long long>(rounds),
      o.value_size, static_cast<unsigned long long>(r.requests), r.seconds);
  std::printf("throughput: %.0f requests/s, %.1f MB/s of values each way\n",
              static_cast<double>(r.requests) / seconds,
              static_cast<double>(r.values_checked * o.value_size) / seconds / 1e6);
  std::printf("latency (request -> whole reply): p50 %.0f us, p99 %.0f us, max %.0f us\n",
              demo::percentile_us(r.latency_ns, 0.50), demo::percentile_us(r.latency_ns, 0.99),
              demo::percentile_us(r.latency_ns, 1.0));
  std::printf("verified: %llu values byte for byte, %zu failures\n",
              static_cast<unsigned long long>(r.values_checked), r.failures.size());
  std::printf(
      "server: %llu connections, %llu requests, %llu rejected, %llu broken, %llu keys left\n",
      static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(s.requests),
      static_cast<unsigned long long>(s.rejected), static_cast<unsigned long long>(s.broken),
      static_cast<unsigned long long>(s.keys));
  for (const auto& f : r.failures) std::printf("failure: %s\n", f.c_str());
  return r.failures.empty() && r.requests == expected && r.values_checked == clients * rounds &&
         s.connections == clients && s.requests == expected && s.rejected == 0 && s.broken == 0 &&
         s.keys == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<options> opt = parse(argc, argv);
  if (!opt) return 2;

  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);  // the io_context drives the runtime, on this thread

  // Ctrl-C (or SIGTERM) shuts the runtime down; the completion is a queued call on it.
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait(stakker::asio::use_ret(
      rt, stakker::ret_do<std::tuple<stakker::asio::error_code, int>>(
              [&](std::optional<std::tuple<stakker::asio::error_code, int>> r) {
                if (r && !std::get<0>(*r)) rt.shutdown(stakker::stop_cause::killed("interrupted"));
              })));

  kv::server_stats stats;
  const net::ip::tcp::endpoint at(net::ip::address_v4::loopback(),
                                  static_cast<std::uint16_t>(opt->port));
  auto srv = stakker::make_actor<&kv::server::init>(rt, stakker::ret_shutdown(rt), at, &stats);
  loop.request_run();
  ioc.poll();  // runs the server's init: the acceptor is bound (or the runtime shut down)
  const std::optional<unsigned> port =
      stakker::inspect(rt, srv, [](kv::server& s) -> unsigned { return s.port(); });
  int status = 0;
  if (!port) {
    std::fprintf(stderr, "stakker_asio_demo: %s\n",
                 rt.shutdown_cause() ? rt.shutdown_cause()->text().c_str() : "server not ready");
    status = 1;
  } else if (opt->serve) {
    std::printf("kv server on 127.0.0.1:%u; serving until interrupted (Ctrl-C)\n", *port);
    std::printf("try: nc -C 127.0.0.1 %u, then SET greeting 5, hello, GET greeting, QUIT\n", *port);
    std::fflush(stdout);
    std::printf("shutdown: %s\n", loop.run().text().c_str());
  } else {
    std::printf(
        "kv server on 127.0.0.1:%u: an acceptor owning the store, one actor and task per "
        "connection, on a runtime driven by an Asio io_context\n",
        *port);
    // The load generator on its own thread; its report comes back through the pipe.
    kv::load_options load;
    load.server =
        net::ip::tcp::endpoint(net::ip::address_v4::loopback(), static_cast<std::uint16_t>(*port));
    load.clients = static_cast<int>(opt->clients);
    load.rounds = static_cast<int>(opt->requests);
    load.value_size = static_cast<std::size_t>(opt->value_size);
    std::optional<kv::load_report> report;
    bool generator_ended = false;
    stakker::piped_thread<int, kv::load_report> generator(
        rt, stakker::fwd_do<kv::load_report>([&](kv::load_report r) { report = std::move(r); }),
        stakker::fwd_do<std::optional<std::string>>([&](std::optional<std::string> error) {
          if (error) std::fprintf(stderr, "load generator failed: %s\n", error->c_str());
          generator_ended = true;
          rt.shutdown(stakker::stop_cause::stopped());
        }),
        [load](stakker::piped_link<int, kv::load_report>& link) {
          link.send(kv::run_load(load, [&link] { return link.cancelled(); }));
        });
    std::printf(
        "load generator: %d clients on a second thread with its own io_context, runtime "
        "and io_loop\n",
        load.clients);
    std::fflush(stdout);
    const stakker::stop_cause cause = loop.run();
    if (!generator_ended) {
      // Interrupted: cancel the load generator and wait for its thread to end (it checks
      // every 100 ms), so that it does not outlive main.
      generator.cancel();
      rt.take_shutdown_cause();
      loop.run();
    }
    const bool clean = report && print_report(*report, load, stats);
    std::printf("shutdown: %s\n", cause.text().c_str());
    status = clean && !cause.has_error() ? 0 : 1;
  }

  // Stop every actor while the loop still exists, and let the cancelled operations end.
  signals.cancel();
  srv.reset();
  kv::drain(loop);
  return status;
}
