// SPDX-License-Identifier: MIT OR Apache-2.0
// server: the key-value server's acceptor actor, which owns the store and the connections.
#pragma once

#include <cstdint>
#include <memory>

#include "connection.hpp"
#include "server_stats.hpp"
#include "stakker/actor_own_slab.hpp"
#include "stakker/asio/asio.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/stakker.hpp"
#include "store.hpp"

namespace kv {

// Listens on `at` (bound in init: an error there fails the actor). An accept loop, a task
// tied to this actor, awaits each connection (async_accept with use_task, resuming on the
// runtime's thread) and hands its socket to `accepted`, a queued call, which starts a
// connection actor. The server owns the store (shared with the connections through a
// stakker::share) and every connection: when it stops, they stop too (their tasks are
// destroyed, cancelling their pending operations, and their sockets close), and so does the
// accept loop.
//
// Runs on a runtime with an io_binding (an io_loop, an io_poller); its sockets are made from
// the runtime's executor, so even plain completion handlers on them run on the runtime.
class server {
 public:
  static server init(stakker::cx<server>& x, net::ip::tcp::endpoint at, server_stats* stats) {
    return init_limited(x, at, server_limits{}, stats);
  }
  static server init_limited(stakker::cx<server>& x, net::ip::tcp::endpoint at,
                             server_limits limits, server_stats* stats);

  void accepted(stakker::cx<server>& x, net::ip::tcp::socket socket);

  // The port actually bound (for port 0). Loop level (inspect) or the actor's own calls.
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  server(stakker::cx<server>& x, net::ip::tcp::acceptor acceptor, const server_limits& limits,
         server_stats* stats);

  void start(stakker::cx<server>& x);
  // The accept loop; ends only when destroyed (the actor stopped) or on a fatal error.
  static stakker::coro::task<void> accept_loop(net::ip::tcp::acceptor* acceptor,
                                               stakker::actor<server> self);

  net::ip::tcp::acceptor acceptor_;
  stakker::share<store> store_;
  stakker::actor_own_slab<connection> connections_;  // each removed when it stops
  server_limits limits_;
  std::shared_ptr<stakker::loop::byte_budget> input_;  // value bytes in flight
  server_stats* stats_;
};

}  // namespace kv
