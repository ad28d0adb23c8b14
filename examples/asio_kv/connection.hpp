// SPDX-License-Identifier: MIT OR Apache-2.0
// connection: one actor per client connection of the key-value server.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "line_reader.hpp"
#include "protocol.hpp"
#include "server_stats.hpp"
#include "stakker/asio/asio.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/loop/byte_budget.hpp"
#include "stakker/stakker.hpp"
#include "store.hpp"

namespace kv {

// How a connection's session ended.
enum class session_end {
  quit,      // the client sent QUIT and got BYE
  closed,    // the client closed its side between commands
  rejected,  // the client broke the protocol and got an ERROR reply
  broken,    // an I/O error, or the stream ended in the middle of a command
};

// Owns the connection's socket. Its protocol handling is one task, spawned by the actor
// and tied to it: the task reads a command, applies it to the store (shared state of the
// runtime, borrowed for that one step), writes the reply, and goes on with the next
// command, so pipelined commands are answered in order. Every Asio operation is awaited with
// use_task, so the task resumes on the runtime's thread, from its queue.
//
// The task uses the actor's state (socket, buffer) between the actor's calls, on the same
// thread. That is safe because the state outlives the task: when the actor stops, for
// whatever reason (its owner drops it, the session ends), the task is destroyed first, at its
// suspension point, which cancels the pending read or write (contract K4); the socket closes
// when the state is destroyed after it.
class connection {
 public:
  static connection init(stakker::cx<connection>& x, net::ip::tcp::socket socket,
                         stakker::share<store> s, server_limits limits,
                         std::shared_ptr<stakker::loop::byte_budget> input, server_stats* stats);

  // The session's answer (empty if the task threw something unexpected, which spawn
  // reports on stderr). Stops the actor.
  // (The session counts its own outcome in the stats before it closes its side, so a
  // client that has seen the end of the stream sees the stats up to date.)
  void ended(stakker::cx<connection>& x, std::optional<session_end> how);
  // The watchdog's timer: closes the socket once the current deadline has passed (the
  // pending read or write then fails and the session ends), or re-arms.
  void check(stakker::cx<connection>& x);

 private:
  connection(stakker::core& c, net::ip::tcp::socket socket, stakker::share<store> s,
             const server_limits& limits, std::shared_ptr<stakker::loop::byte_budget> input,
             server_stats* stats)
      : core_(&c),
        socket_(std::move(socket)),
        store_(std::move(s)),
        limits_(limits),
        input_(std::move(input)),
        stats_(stats) {}

  // The session's next step must be done within `d` (one store: the watchdog timer
  // re-arms itself lazily, at most every io_timeout).
  void expect_within(stakker::duration d) { deadline_ = stakker::saturating_add(core_->now(), d); }

  // Queued by init: spawns the session once the state is in its final place.
  void start(stakker::cx<connection>& x);
  stakker::coro::task<session_end> serve();
  // Answers one well-formed SET, GET or DEL.
  stakker::coro::task<void> handle(verb what, std::string key, std::size_t length);

  stakker::core* core_;  // the runtime's, for timers
  net::ip::tcp::socket socket_;
  line_reader in_;
  stakker::share<store> store_;
  server_limits limits_;
  std::shared_ptr<stakker::loop::byte_budget> input_;  // value bytes in flight, all connections
  server_stats* stats_;
  stakker::instant deadline_ = stakker::instant::max();
  stakker::timer_key watchdog_;
  bool timed_out_ = false;
};

}  // namespace kv
