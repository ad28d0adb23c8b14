// SPDX-License-Identifier: MIT OR Apache-2.0
#include "server.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

#include "stakker/coro/spawn.hpp"

namespace kv {

using stakker::asio::use_task;

server server::init_limited(stakker::cx<server>& x, net::ip::tcp::endpoint at, server_limits limits,
                            server_stats* stats) {
  // Opens, binds (SO_REUSEADDR) and listens; throws if it cannot, which fails the actor.
  net::ip::tcp::acceptor acceptor(stakker::asio::executor_of(x), at);
  x.call<&server::start>();  // runs once the state is installed
  return server(x, std::move(acceptor), limits, stats);
}

server::server(stakker::cx<server>& x, net::ip::tcp::acceptor acceptor, const server_limits& limits,
               server_stats* stats)
    : acceptor_(std::move(acceptor)),
      store_(x, stats),
      limits_(limits),
      input_(std::make_shared<stakker::loop::byte_budget>(limits.total_input)),
      stats_(stats) {}

void server::start(stakker::cx<server>& x) {
  // The loop never ends by itself: if it throws something unexpected (reported on stderr),
  // the server fails. When the server stops, the loop is destroyed where it waits.
  stakker::coro::spawn(x, accept_loop(&acceptor_, x.this_actor()), stakker::ret_fail<void>(x));
}

void server::accepted(stakker::cx<server>& x, net::ip::tcp::socket socket) {
  if (connections_.size() >= limits_.max_connections) {
    // Told why at once (a short line fits any socket buffer), then closed.
    ++stats_->refused;
    const std::string text = error_line("busy: too many connections");
    stakker::asio::error_code ignored;
    socket.write_some(net::buffer(text), ignored);
    socket.shutdown(net::socket_base::shutdown_both, ignored);
    return;
  }
  connections_.make<&connection::init>(x, stakker::ret_nop<stakker::stop_cause>(),
                                       std::move(socket), store_, limits_, input_, stats_);
}

stakker::coro::task<void> server::accept_loop(net::ip::tcp::acceptor* acceptor,
                                              stakker::actor<server> self) {
  for (;;) {
    bool failed = false;
    try {
      net::ip::tcp::socket socket = co_await acceptor->async_accept(use_task);
      stakker::call<&server::accepted>(self, std::move(socket));
    } catch (const stakker::asio::system_error& e) {
      // E.g. out of descriptors: the connection stays queued in the kernel.
      std::fprintf(stderr, "kv server: accept: %s\n", e.code().message().c_str());
      failed = true;
    }
    if (failed) {
      // Try again a little later (co_await may not appear in a catch handler).
      net::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(use_task);
    }
  }
}

}  // namespace kv
