// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat server's soak: the server runs for minutes on this thread's runtime and loop,
// under good clients (one thread) and hostile ones started and stopped continuously
// (another thread). It passes if no good client loses a line or is cut off, and if the
// process's resident set stays under a bound derived from the server's limits.
//
//   stakker_chat_soak [seconds [seed [hostile]]]
//   (or STAKKER_SOAK_SECONDS, STAKKER_SOAK_SEED, STAKKER_SOAK_HOSTILE: at most 48, the default)
//
// Default 120 s. The seed is printed; giving it back replays the clients' choices (the
// timing of a run on real sockets is not replayable, only what each client decides).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "chat/server.hpp"
#include "good_clients.hpp"
#include "hostile_clients.hpp"
#include "soak_sockets.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr int good_count = 6;

// The limits the soak runs with: small enough that the RSS bound below means something.
chat::server_limits soak_limits() {
  chat::server_limits l;
  l.max_connections = 256;
  l.max_output = std::size_t{1} << 20;
  l.total_output = std::size_t{32} << 20;
  l.total_input = std::size_t{8} << 20;
  l.idle_timeout = 10s;
  l.line_timeout = 2s;
  l.closing_timeout = 2s;
  return l;
}

// The RSS bound: what the process held before any client (baseline), plus twice the
// budgets (an io_buffer's capacity may be twice its content), plus, per connection allowed,
// 192 KiB of buffers the budgets do not count (an input buffer's spare capacity up to
// 128 KiB, an emptied output buffer kept up to 64 KiB), plus 32 MiB for the client
// threads, their stacks and the allocator's slack.
std::size_t rss_bound(std::size_t baseline, const chat::server_limits& l) {
  return baseline + 2 * (l.total_output + l.total_input) + l.max_connections * (192u << 10) +
         (std::size_t{32} << 20);
}

std::uint64_t number_arg(int argc, char** argv, int i, const char* env, std::uint64_t dflt) {
  const char* s = i < argc ? argv[i] : std::getenv(env);
  return s != nullptr && *s != '\0' ? std::strtoull(s, nullptr, 10) : dflt;
}

// Sanitizers keep freed memory in quarantine and add shadow memory: the bound is only
// checked in builds without them (tools/dev soak uses the release preset).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool rss_checked = false;
#else
constexpr bool rss_checked = true;
#endif

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  using namespace stakker;
  const std::uint64_t seconds = number_arg(argc, argv, 1, "STAKKER_SOAK_SECONDS", 120);
  // Hostile connections alive at once (at most 48: the bound counts on it).
  const std::size_t hostile_alive =
      std::min<std::size_t>(48, number_arg(argc, argv, 3, "STAKKER_SOAK_HOSTILE", 48));
  const std::uint64_t seed =
      number_arg(argc, argv, 2, "STAKKER_SOAK_SEED", std::random_device{}() | 1u);
  const std::string replay = "stakker_chat_soak " + std::to_string(seconds) + ' ' +
                             std::to_string(seed) + ' ' + std::to_string(hostile_alive);
  std::printf("chat soak: %llu s, seed %llu, %zu hostile clients at once (replay: %s)\n",
              static_cast<unsigned long long>(seconds), static_cast<unsigned long long>(seed),
              hostile_alive, replay.c_str());
  std::fflush(stdout);

  runtime rt;
  loop::epoll_loop lp(rt);
  chat::server_stats stats;
  const chat::server_limits limits = soak_limits();
  auto srv = make_actor<&chat::server::init>(rt, ret_shutdown(rt),
                                             loop::socket_address::loopback_v4(0), limits, &stats);
  rt.run(clock::now(), false);
  const std::uint16_t port = *inspect(rt, srv, [](chat::server& s) { return s.port(); });

  const std::size_t baseline = soak::rss_bytes();
  const std::size_t bound = rss_bound(baseline, limits);
  const steady::time_point until = steady::now() + std::chrono::seconds(seconds);

  std::atomic<int> running{2};
  soak::good_report good;
  soak::hostile_report hostile;
  std::thread good_thread([&] {
    good = soak::good_clients({port, good_count, 40, 4, seed, until}).run();
    --running;
  });
  std::thread hostile_thread([&] {
    hostile = soak::hostile_clients({port, hostile_alive, 2, seed + 1, until}).run();
    --running;
  });

  // Serve, sampling the RSS and the budgets between turns.
  std::size_t rss_peak = baseline, out_peak = 0, in_peak = 0, conn_peak = 0;
  auto next_report = steady::now() + 10s;
  while (running.load() != 0 && !rt.is_shutdown()) {
    lp.turn(20ms);
    rss_peak = std::max(rss_peak, soak::rss_bytes());
    inspect(rt, srv, [&](chat::server& s) {
      out_peak = std::max(out_peak, s.stream_options().output_budget->used());
      in_peak = std::max(in_peak, s.stream_options().input_budget->used());
      conn_peak = std::max(conn_peak, s.connections());
    });
    if (steady::now() >= next_report) {
      next_report += 10s;
      std::printf(
          "  rss %.1f MiB (peak %.1f), heap in use %.1f MiB, %llu messages, %llu connections, "
          "%llu dropped, %llu in the room\n",
          mib(soak::rss_bytes()), mib(rss_peak), mib(soak::heap_in_use()),
          static_cast<unsigned long long>(stats.messages),
          static_cast<unsigned long long>(stats.connections),
          static_cast<unsigned long long>(stats.dropped),
          static_cast<unsigned long long>(stats.members));
      std::fflush(stdout);
    }
  }
  good_thread.join();
  hostile_thread.join();
  // Let the last connections end (their timeouts are at most 10 s), then check nothing is
  // left held.
  const auto settle_until = steady::now() + 15s;
  std::size_t left = 0, out_left = 0, in_left = 0;
  do {
    lp.turn(50ms);
    inspect(rt, srv, [&](chat::server& s) {
      left = s.connections();
      out_left = s.stream_options().output_budget->used();
      in_left = s.stream_options().input_budget->used();
    });
  } while ((left != 0 || out_left != 0 || in_left != 0 || stats.members != 0) &&
           steady::now() < settle_until);

  std::printf(
      "server: %llu connections (peak %zu alive), %llu messages, %llu dropped, "
      "%llu accept errors\n",
      static_cast<unsigned long long>(stats.connections), conn_peak,
      static_cast<unsigned long long>(stats.messages),
      static_cast<unsigned long long>(stats.dropped),
      static_cast<unsigned long long>(stats.accept_errors));
  std::printf(
      "good clients: %d seats, %llu rejoins; said %llu lines, received %llu, of which %llu "
      "required by a membership window\n",
      good_count, static_cast<unsigned long long>(good.rejoins),
      static_cast<unsigned long long>(good.said), static_cast<unsigned long long>(good.received),
      static_cast<unsigned long long>(good.required));
  std::printf("hostile clients (started/seen cut off by the server):");
  for (std::size_t k = 0; k < soak::hostile_names.size(); ++k)
    std::printf(" %s %llu/%llu", soak::hostile_names[k],
                static_cast<unsigned long long>(hostile.started[k]),
                static_cast<unsigned long long>(hostile.cut_off[k]));
  std::printf("\nbudgets: output peak %.1f MiB of %.0f, input peak %.2f MiB of %.0f\n",
              mib(out_peak), mib(limits.total_output), mib(in_peak), mib(limits.total_input));
  std::printf(
      "rss: baseline %.1f MiB, peak %.1f MiB, bound %.1f MiB; heap in use at the end "
      "%.1f MiB\n",
      mib(baseline), mib(rss_peak), mib(bound), mib(soak::heap_in_use()));

  bool ok = true;
  for (const std::string& f : good.failures) {
    std::printf("failure: %s\n", f.c_str());
    ok = false;
  }
  if (good.required == 0) {
    std::printf("failure: no line was required of any good client (nothing checked)\n");
    ok = false;
  }
  if (!rss_checked) std::printf("rss: not checked (a sanitizer build)\n");
  if (rss_checked && rss_peak > bound) {
    std::printf("failure: rss peak %.1f MiB over the bound %.1f MiB\n", mib(rss_peak), mib(bound));
    ok = false;
  }
  if (left != 0 || out_left != 0 || in_left != 0 || stats.members != 0) {
    std::printf(
        "failure: after the clients left, %zu connections, %llu room members, %zu "
        "output and %zu input bytes still held\n",
        left, static_cast<unsigned long long>(stats.members), out_left, in_left);
    ok = false;
  }
  if (rt.is_shutdown()) {
    std::printf("failure: the server stopped: %s\n", rt.shutdown_cause()->text().c_str());
    ok = false;
  }
  std::printf("%s (replay: %s)\n", ok ? "PASSED" : "FAILED", replay.c_str());
  return ok ? 0 : 1;
}
