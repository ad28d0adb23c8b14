// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat room across processes on NATS: `tools/dev demo cluster`.
//
// This program starts a nats-server on a free loopback port and two chat server processes
// (this program again, with --node), each a runtime on its epoll_loop holding a replica of
// the room and the connections it took. A replica publishes each batch said on its node to
// the subject "chat.room" and relays what the other nodes publish there to its members
// (the connections ask for no echo of their own publishes), so the room spans the
// processes. The load generator (on this process) spreads its clients over both nodes,
// prints messages per second and the latencies, kills one node mid-run (SIGKILL), and
// checks that the other node kept serving its clients: each of them said all its messages
// and heard every message of every other client still connected, in order, none missing.
//
//   stakker_cluster_demo [--clients N] [--messages M] [--window W] [--kill-at PERCENT]
//   stakker_cluster_demo --node --index I --port P --nats-port Q   (one node; used by the above)
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../chat/server.hpp"
#include "../demo_process.hpp"
#include "../demo_support.hpp"
#include "cluster_load.hpp"
#include "stakker/nats/nats.hpp"

using namespace stakker;

namespace {

struct options {
  long clients = 40;
  long messages = 5000;
  long window = 4;
  long kill_at = 40;  // percent of all messages answered; 0: no kill
  bool node = false;
  long index = 0;
  long port = 0;
  long nats_port = 0;
};

const char usage[] =
    "usage: stakker_cluster_demo [--clients N] [--messages M] [--window W] [--kill-at P]\n"
    "  --clients N    load generator connections, spread over two nodes, 2..1000 (default 40)\n"
    "  --messages M   messages each client says, 1..100000 (default 5000)\n"
    "  --window W     own messages in flight per client, 1..1000 (default 4)\n"
    "  --kill-at P    kill node 1 once P percent of the messages are answered, 0..99\n"
    "                 (default 40; 0: no kill)\n"
    "  --node --index I --port P --nats-port Q\n"
    "                 run one node: a chat server on 127.0.0.1:P, its room replica on the\n"
    "                 nats-server at 127.0.0.1:Q (what the demo starts twice)\n";

// --- a node ----------------------------------------------------------------------------

// Publishes a batch in pieces that fit the server's max_payload, cut at line ends.
void publish_batch(nats::connection& conn, const std::string& batch) {
  const std::size_t max =
      static_cast<std::size_t>(std::max<std::int64_t>(conn.max_payload(), 4096));
  std::size_t at = 0;
  while (at < batch.size()) {
    std::size_t end = std::min(batch.size(), at + max);
    if (end < batch.size()) {
      std::size_t nl = batch.rfind('\n', end - 1);
      if (nl != std::string::npos && nl >= at) end = nl + 1;
    }
    conn.publish("chat.room", std::string_view(batch).substr(at, end - at));
    at = end;
  }
}

int run_node(const options& o) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  loop::unique_fd sigfd(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));

  runtime rt;
  loop::epoll_loop lp(rt);
  loop::fd_source on_signal =
      lp.add(sigfd.get(), EPOLLIN, loop::epoll_loop::max_priority,
             fwd_do<std::uint32_t>([&](std::uint32_t) { rt.shutdown(stop_cause::stopped()); }));
  chat::server_stats stats;
  std::optional<actor_own<chat::room>> room;
  std::optional<actor_own<chat::server>> srv;
  nats::subscription sub;

  nats::options no;
  no.servers = {"nats://127.0.0.1:" + std::to_string(o.nats_port)};
  no.name = "chat-node-" + std::to_string(o.index);
  no.no_echo = true;  // a replica hears the other nodes' batches, not its own
  std::shared_ptr<nats::connection> conn;
  conn = nats::connection::connect(
      rt, no, fwd_do<nats::event>([&](nats::event e) {
        if (e.what != nats::event::kind::connected)
          std::fprintf(stderr, "node %ld: nats %s %s\n", o.index, nats::to_string(e.what),
                       e.text.c_str());
      }),
      ret_do<coro::result<void>>([&](std::optional<coro::result<void>> r) {
        if (!r || !r->has_value()) {
          rt.shutdown(stop_cause::failed("node: cannot reach the nats-server"));
          return;
        }
        room = make_actor<&chat::room::init>(rt, ret_shutdown(rt), &stats);
        std::weak_ptr<nats::connection> w = conn;
        call<&chat::room::set_outbound>(*room, fwd_do<std::shared_ptr<const std::string>>(
                                                   [w](std::shared_ptr<const std::string> batch) {
                                                     if (auto c = w.lock(); c && c->is_connected())
                                                       publish_batch(*c, *batch);
                                                   }));
        actor<chat::room> replica = *room;
        sub = conn->subscribe("chat.room", fwd_do<nats::message>([replica](nats::message m) {
                                call<&chat::room::relay>(
                                    replica, std::make_shared<const std::string>(m.data()));
                              }));
        chat::server_place place{static_cast<std::size_t>(o.index), 2, true, false};
        srv = make_actor<&chat::server::init_shard>(
            rt, ret_shutdown(rt),
            loop::socket_address::loopback_v4(static_cast<std::uint16_t>(o.port)),
            chat::server_limits{}, &stats, replica, place, ret_nop<std::uint16_t>());
      }));
  const stop_cause cause = lp.run();
  sub.reset();
  srv.reset();
  room.reset();
  conn.reset();
  if (cause.has_error()) std::fprintf(stderr, "node %ld: %s\n", o.index, cause.text().c_str());
  return cause.has_error() ? 1 : 0;
}

// --- the demo --------------------------------------------------------------------------

int run_demo(const options& o, const char* self) {
  const int nats_port = demo::free_port();
  demo::child_process nats(
      {STAKKER_NATS_SERVER, "-a", "127.0.0.1", "-p", std::to_string(nats_port)}, true);
  if (!nats.wait_listening(nats_port)) {
    std::fprintf(stderr, "stakker_cluster_demo: the nats-server did not start\n");
    return 1;
  }
  std::printf("nats-server on 127.0.0.1:%d\n", nats_port);

  std::vector<int> ports;
  std::vector<std::unique_ptr<demo::child_process>> nodes;
  for (int i = 0; i < 2; ++i) {
    ports.push_back(demo::free_port());
    nodes.push_back(std::make_unique<demo::child_process>(
        std::vector<std::string>{self, "--node", "--index", std::to_string(i), "--port",
                                 std::to_string(ports.back()), "--nats-port",
                                 std::to_string(nats_port)},
        false));
  }
  for (std::size_t i = 0; i < 2; ++i)
    if (!nodes[i]->wait_listening(ports[i])) {
      std::fprintf(stderr, "stakker_cluster_demo: node %zu did not start\n", i);
      return 1;
    }
  std::printf("chat nodes: node 0 on 127.0.0.1:%d, node 1 on 127.0.0.1:%d (one process each)\n",
              ports[0], ports[1]);
  std::printf("load: %ld clients (half on each node) x %ld messages (window %ld)", o.clients,
              o.messages, o.window);
  if (o.kill_at > 0) std::printf("; node 1 killed at %ld%% of the messages", o.kill_at);
  std::printf("\n");
  std::fflush(stdout);

  cluster::load_options lo;
  for (int p : ports)
    lo.servers.push_back(loop::socket_address::loopback_v4(static_cast<std::uint16_t>(p)));
  lo.clients = static_cast<int>(o.clients);
  lo.messages = static_cast<int>(o.messages);
  lo.window = static_cast<int>(o.window);
  lo.kill_at = static_cast<double>(o.kill_at) / 100.0;
  lo.kill = [&] { nodes[1]->stop(SIGKILL); };
  cluster::load_report r = cluster::run_load(lo, std::chrono::seconds(120));

  // What the survivors say.
  std::size_t survivors = 0, cut = 0, problems = 0, missing = 0;
  std::uint64_t said = 0;
  std::set<std::uint64_t> alive;
  for (const auto& c : r.clients)
    if (!c.cut_off) alive.insert(c.id);
  for (const auto& c : r.clients) {
    said += static_cast<std::uint64_t>(c.acked);
    if (c.cut_off) {
      ++cut;
      continue;
    }
    ++survivors;
    problems += c.problems.size();
    for (const auto& p : c.problems)
      std::printf("problem (client %llu): %s\n", static_cast<unsigned long long>(c.id), p.c_str());
    if (c.acked != o.messages) ++missing;
    for (std::uint64_t s : alive) {
      if (s == c.id) continue;
      auto it = c.heard.find(s);
      if (it == c.heard.end() || it->second != static_cast<std::uint64_t>(o.messages)) ++missing;
    }
  }
  std::printf("throughput: %.0f messages/s said (%llu in %.2f s), %.0f lines/s delivered\n",
              static_cast<double>(said) / r.seconds, static_cast<unsigned long long>(said),
              r.seconds, static_cast<double>(r.lines) / r.seconds);
  std::printf("latency, same node (say -> own echo): p50 %.0f us, p99 %.0f us\n",
              demo::percentile_us(r.own_latency_ns, 0.50),
              demo::percentile_us(r.own_latency_ns, 0.99));
  if (r.cross_latency_ns.empty())
    std::printf("latency, across nodes through NATS: none measured (node 1 went first)\n");
  else
    std::printf("latency, across nodes through NATS: p50 %.0f us, p99 %.0f us (%zu lines)\n",
                demo::percentile_us(r.cross_latency_ns, 0.50),
                demo::percentile_us(r.cross_latency_ns, 0.99), r.cross_latency_ns.size());
  if (o.kill_at > 0)
    std::printf("node 1 killed at %.0f ms: %zu of its clients cut off\n", r.kill_seconds * 1000,
                cut);
  std::printf(
      "node 0 kept serving: %zu clients said all %ld messages each, and each heard every "
      "message of every other connected client in order: %s\n",
      survivors, o.messages,
      (problems == 0 && missing == 0) ? "none lost" : "LOST OR OUT OF ORDER");
  nodes[0]->stop(SIGTERM);
  const bool clean = problems == 0 && missing == 0 && survivors > 0 &&
                     (o.kill_at > 0 ? cut == static_cast<std::size_t>(o.clients / 2) : cut == 0);
  std::printf("%s\n", clean ? "PASSED" : "FAILED");
  return clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!demo::parse_options(argc, argv, "stakker_cluster_demo", usage,
                           {{"--clients", &o.clients, 2, 1000},
                            {"--messages", &o.messages, 1, 100000},
                            {"--window", &o.window, 1, 1000},
                            {"--kill-at", &o.kill_at, 0, 99},
                            {"--index", &o.index, 0, 1},
                            {"--port", &o.port, 1, 65535},
                            {"--nats-port", &o.nats_port, 1, 65535}},
                           {{"--node", &o.node}}))
    return 2;
  if (o.node) return run_node(o);
  return run_demo(o, "/proc/self/exe");
}
