// SPDX-License-Identifier: MIT OR Apache-2.0
#include "asio_kv_plain_server.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <utility>

#include "asio_kv/protocol.hpp"

#if defined(STAKKER_ASIO_USE_BOOST)
#include <boost/asio/experimental/awaitable_operators.hpp>
#else
#include <asio/experimental/awaitable_operators.hpp>
#endif

namespace bench::kv_plain {

using net::use_awaitable;
using namespace net::experimental::awaitable_operators;

namespace {

constexpr std::string_view ok_reply = "OK\n";
constexpr std::string_view none_reply = "NONE\n";
constexpr std::string_view deleted_reply = "DELETED\n";
constexpr std::string_view bye_reply = "BYE\n";

// Reads and drops everything until the stream ends or fails.
net::awaitable<void> skip_rest(tcp::socket& socket) {
  std::array<char, 4096> scratch;
  try {
    for (;;) co_await socket.async_read_some(net::buffer(scratch), use_awaitable);
  } catch (const stakker::asio::system_error&) {
    // The end of the stream, or an error: nothing more to wait for either way.
  }
}

}  // namespace

server::server(net::io_context& ioc, const tcp::endpoint& at) {
  tcp::acceptor acceptor(ioc, at);  // opens, binds (SO_REUSEADDR), listens; throws on error
  port_ = acceptor.local_endpoint().port();
  net::co_spawn(ioc, listen(std::move(acceptor)), net::detached);
}

net::awaitable<void> server::listen(tcp::acceptor acceptor) {
  for (;;) {
    bool failed = false;
    try {
      tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
      net::co_spawn(acceptor.get_executor(), session(std::move(socket)), net::detached);
    } catch (const stakker::asio::system_error& e) {
      // E.g. out of descriptors: the connection stays queued in the kernel.
      std::fprintf(stderr, "plain kv server: accept: %s\n", e.code().message().c_str());
      failed = true;
    }
    if (failed) {
      net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(use_awaitable);
    }
  }
}

net::awaitable<void> server::session(tcp::socket socket) {
  ++stats_.connections;
  // Replies are written whole, one per command: send each at once.
  stakker::asio::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);

  // A line read takes as much as fits, up to max_line bytes (a line, and what follows it:
  // often a whole small value, or more pipelined commands).
  std::string in;
  in.reserve(kv::max_line);
  std::string_view reason;  // set when the client broke the protocol
  bool between = true;      // not inside a command: the stream may end here
  bool done = false;        // QUIT answered, or the client closed between commands
  try {
    for (;;) {
      const std::size_t n = co_await net::async_read_until(
          socket, net::dynamic_buffer(in, kv::max_line), '\n', use_awaitable);
      const kv::command c = kv::parse_command(std::string_view(in.data(), n - 1));
      if (c.what == kv::verb::blank) {
        in.erase(0, n);
        continue;
      }
      between = false;
      if (c.what == kv::verb::bad) {
        reason = c.error;
        break;
      }
      if (c.what == kv::verb::quit) {
        co_await net::async_write(socket, net::buffer(bye_reply), use_awaitable);
        ++stats_.requests;
        done = true;
        break;
      }
      std::string key(c.key);  // the key views the line, which is dropped now
      const std::size_t length = c.length;
      in.erase(0, n);
      switch (c.what) {
        case kv::verb::set: {
          // The value: first what is buffered, then the rest read straight into it.
          const std::size_t have = std::min(in.size(), length);
          std::string value;
          value.reserve(length);  // allocated once, as the example's line_reader does
          value.assign(in.data(), have);
          in.erase(0, have);
          if (have < length) {
            value.resize(length);
            co_await net::async_read(socket, net::buffer(value.data() + have, length - have),
                                     use_awaitable);
          }
          store_.insert_or_assign(std::move(key), std::move(value));
          stats_.keys = store_.size();
          co_await net::async_write(socket, net::buffer(ok_reply), use_awaitable);
          break;
        }
        case kv::verb::get: {
          const auto it = store_.find(key);
          if (it == store_.end()) {
            co_await net::async_write(socket, net::buffer(none_reply), use_awaitable);
            break;
          }
          // A copy: another session may overwrite or delete the entry while this write waits.
          const std::string value = it->second;
          const std::string header = kv::value_line(value.size());
          const std::array<net::const_buffer, 2> reply{net::buffer(header), net::buffer(value)};
          co_await net::async_write(socket, reply, use_awaitable);
          break;
        }
        case kv::verb::del: {
          const bool existed = store_.erase(key) != 0;
          stats_.keys = store_.size();
          co_await net::async_write(socket, net::buffer(existed ? deleted_reply : none_reply),
                                    use_awaitable);
          break;
        }
        case kv::verb::quit:
        case kv::verb::blank:
        case kv::verb::bad:
          break;  // handled above
      }
      ++stats_.requests;
      between = true;
    }
  } catch (const stakker::asio::system_error& e) {
    if (e.code() == net::error::not_found) {
      reason = "line too long";
    } else if (e.code() == net::error::eof && between && in.empty()) {
      done = true;  // the client closed between commands
    }
  }
  if (!reason.empty()) {
    // What follows a malformed command cannot be parsed: say why, then close.
    ++stats_.rejected;
    const std::string text = kv::error_line(reason);
    try {
      co_await net::async_write(socket, net::buffer(text), use_awaitable);
    } catch (const stakker::asio::system_error&) {
      // The client is gone already.
    }
  } else if (!done) {
    ++stats_.broken;
  }
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  if (!reason.empty()) {
    // Closing with unread input would reset the connection, which can destroy the ERROR
    // reply before the client reads it: drop what the client still sends until it closes
    // its side, for a second at most.
    net::steady_timer deadline(socket.get_executor(), std::chrono::seconds(1));
    co_await (skip_rest(socket) || deadline.async_wait(use_awaitable));
  }
}

}  // namespace bench::kv_plain
