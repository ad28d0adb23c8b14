// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: the key-value example's protocol (examples/asio_kv/protocol.hpp) served with plain
// Asio C++20 coroutines, written as Asio's own coroutine examples write a server: a listener
// coroutine co_spawned on an io_context, accepting with use_awaitable and co_spawning one
// `awaitable<void>` session per connection (detached); each session reads a command line
// (async_read_until into a dynamic buffer over a std::string), the value of a SET
// (async_read), applies the command to a plain std::unordered_map<std::string, std::string>
// (one thread, no locks), and writes the reply (async_write), one command at a time, so
// pipelined commands are answered in order. QUIT gets BYE, then the session closes; a
// malformed command gets "ERROR <reason>", then the session closes.
//
// It uses the example's parser and line builders, so both servers speak byte for byte the
// same protocol, and the same buffering as the example's line_reader: a line read takes at
// most kv::max_line bytes into a buffer reserved to that size (often the line and the whole
// small value that follows it), a value's first part is taken from that buffer and the rest
// is read straight into the value's string; replies are written whole, with TCP_NODELAY, a
// GET as one gathered write of the VALUE line and the value.
//
// Asio is named stakker::asio::net only so that the same file builds against standalone Asio
// and Boost.Asio (stakker/asio/config.hpp); nothing of the bridge or the runtime is used.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "asio_kv/server_stats.hpp"
#include "stakker/asio/config.hpp"

namespace bench::kv_plain {

namespace net = stakker::asio::net;
using tcp = net::ip::tcp;

// Everything runs on the thread that runs the io_context (one thread); the server must
// outlive the io_context's running, and `stats()` may be read by another thread only once
// that thread has stopped running it.
class server {
 public:
  // Binds `at` (port 0: any free port) with SO_REUSEADDR, listens, and co_spawns the
  // listener on `ioc`. Throws if it cannot bind.
  server(net::io_context& ioc, const tcp::endpoint& at);
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  const kv::server_stats& stats() const noexcept { return stats_; }

 private:
  net::awaitable<void> listen(tcp::acceptor acceptor);
  net::awaitable<void> session(tcp::socket socket);

  std::unordered_map<std::string, std::string> store_;
  kv::server_stats stats_;
  std::uint16_t port_ = 0;
};

}  // namespace bench::kv_plain
