// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat server over shards (stakker::shard): on each shard's thread a replica of the room
// and a server with the connections it took, all on that shard's runtime and epoll_loop.
// The replicas forward what their members say to one another (see chat::room), so a room
// spans the shards.
//
// Connections reach the shards in one of two ways:
//   - reuse_port: every shard listens on the same port (SO_REUSEPORT) and the kernel
//     spreads new connections over the listeners by a hash of the client's address and
//     port;
//   - hand_off: shard 0 alone listens, and sends each accepted descriptor to the shards in
//     turn (a loop::unique_fd crosses as a value).
// The demo measured both (docs in main.cpp's header); reuse_port is its default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "server.hpp"
#include "stakker/shard/remote.hpp"
#include "stakker/shard/shards.hpp"

namespace chat {

enum class accept_mode { reuse_port, hand_off };

// What a shard keeps of the server, in its runtime's anymap: destroyed with that runtime
// when the shard stops, on the shard's own thread.
struct shard_node {
  actor_own<room> replica;
  actor_own<server> srv;
};

namespace detail {

// Runs `fn(context&)` on shard `i` and waits for its result (rethrowing what it threw).
// Throws std::runtime_error if the shard has stopped before running it.
template <class F>
auto on_shard(shard::shards& g, std::size_t i, F fn) {
  using R = decltype(fn(std::declval<shard::context&>()));
  auto done = std::make_shared<std::promise<R>>();
  std::future<R> result = done->get_future();
  const bool taken = g.on(i, [done, fn = std::move(fn)](shard::context& c) mutable {
    try {
      if constexpr (std::is_void_v<R>) {
        fn(c);
        done->set_value();
      } else {
        done->set_value(fn(c));
      }
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  });
  if (!taken) throw std::runtime_error("chat: shard " + std::to_string(i) + " has stopped");
  try {
    return result.get();
  } catch (const std::future_error&) {  // the closure was destroyed unrun: the shard stopped
    throw std::runtime_error("chat: shard " + std::to_string(i) + " stopped during set-up");
  }
}

inline shard_node& node_of(shard::context& c) {
  if (shard_node* n = c.core().anymap_try_get<shard_node>()) return *n;
  c.core().anymap_set(shard_node{});
  return c.core().anymap_get<shard_node>();
}

}  // namespace detail

// From a thread outside the group: starts the server on every shard of `g`, listening on
// 127.0.0.1:`port` (0: any free port), and returns the port. `stats` gets one entry per shard, each
// written only by its shard (read them once the shards have stopped: shards::join). A
// server or replica that fails shuts its shard down, which stops them all. Throws if a
// shard cannot set up (a bind refused, say), or has stopped.
inline std::uint16_t start_sharded(shard::shards& g, std::uint16_t port,
                                   const server_limits& limits, std::vector<server_stats>& stats,
                                   accept_mode mode = accept_mode::reuse_port) {
  const std::size_t n = g.size();
  stats.assign(n, server_stats{});
  // 1. A replica per shard; 2. each learns the others. Both before any listener exists,
  // so no member can say anything a replica would not forward.
  std::vector<shard::remote<room>> replicas;
  for (std::size_t i = 0; i < n; ++i)
    replicas.push_back(detail::on_shard(g, i, [s = &stats[i]](shard::context& c) {
      shard_node& node = detail::node_of(c);
      node.replica = make_actor<&room::init>(c.core(), ret_shutdown(c.core()), s);
      return shard::make_remote(node.replica);
    }));
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<shard::remote<room>> peers;
    for (std::size_t j = 0; j < n; ++j)
      if (j != i) peers.push_back(replicas[j]);
    detail::on_shard(g, i, [peers = std::move(peers)](shard::context& c) mutable {
      call<&room::set_peers>(detail::node_of(c).replica, std::move(peers));
    });
  }
  // 3. The servers: shard 0 first, so that port 0 is resolved once for all.
  std::vector<shard::remote<server>> servers;
  for (std::size_t i = 0; i < n; ++i) {
    const server_place place{i, n, mode == accept_mode::reuse_port || i == 0,
                             mode == accept_mode::reuse_port};
    const auto here = loop::socket_address::loopback_v4(port);
    auto bound = std::make_shared<std::promise<std::uint16_t>>();
    std::future<std::uint16_t> bound_port = bound->get_future();
    servers.push_back(detail::on_shard(g, i, [=, s = &stats[i]](shard::context& c) {
      shard_node& node = detail::node_of(c);
      node.srv = make_actor<&server::init_shard>(
          c.core(), ret_shutdown(c.core()), here, limits, s, node.replica.ref(), place,
          ret_do<std::uint16_t>([bound](std::optional<std::uint16_t> p) {
            if (p)
              bound->set_value(*p);
            else
              bound->set_exception(std::make_exception_ptr(
                  std::runtime_error("chat: a shard's server could not listen")));
          }));
      return shard::make_remote(node.srv);
    }));
    port = bound_port.get();  // the init ran (or failed) on the shard
  }
  // 4. Hand-off: shard 0's server deals its connections round all of them.
  if (mode == accept_mode::hand_off && n > 1)
    detail::on_shard(g, 0, [servers](shard::context& c) {
      call<&server::set_hand_off>(detail::node_of(c).srv, servers);
    });
  return port;
}

// The shards' figures added up.
inline server_stats total(const std::vector<server_stats>& per_shard) {
  server_stats t;
  for (const server_stats& s : per_shard) {
    t.connections += s.connections;
    t.messages += s.messages;
    t.broadcasts += s.broadcasts;
    t.dropped += s.dropped;
    t.accept_errors += s.accept_errors;
    t.members += s.members;
  }
  return t;
}

}  // namespace chat
