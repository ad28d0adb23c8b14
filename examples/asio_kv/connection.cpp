// SPDX-License-Identifier: MIT OR Apache-2.0
#include "connection.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <string_view>
#include <utility>

#include "stakker/coro/query.hpp"
#include "stakker/coro/sleep.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/timers.hpp"

namespace kv {

using stakker::asio::use_task;

namespace {
constexpr std::string_view ok_reply = "OK\n";
constexpr std::string_view none_reply = "NONE\n";
constexpr std::string_view deleted_reply = "DELETED\n";
constexpr std::string_view bye_reply = "BYE\n";
}  // namespace

connection connection::init(stakker::cx<connection>& x, net::ip::tcp::socket socket,
                            stakker::share<store> s, server_limits limits,
                            std::shared_ptr<stakker::loop::byte_budget> input,
                            server_stats* stats) {
  ++stats->connections;
  // Replies are written whole, one per command: send each at once.
  stakker::asio::error_code ignored;  // a socket already reset by the peer fails later
  socket.set_option(net::ip::tcp::no_delay(true), ignored);
  x.call<&connection::start>();  // runs once the state is installed (the actor is Ready)
  return connection(x.core(), std::move(socket), std::move(s), limits, std::move(input), stats);
}

void connection::start(stakker::cx<connection>& x) {
  expect_within(limits_.idle_timeout);
  watchdog_ = stakker::at<&connection::check>(
      x, std::min(deadline_, stakker::saturating_add(core_->now(), limits_.io_timeout)));
  stakker::coro::spawn(x, serve(), stakker::ret_to<session_end, &connection::ended>(x));
}

void connection::check(stakker::cx<connection>& x) {
  watchdog_ = {};
  const stakker::instant now = core_->now();
  if (now >= deadline_) {
    timed_out_ = true;
    stakker::asio::error_code ignored;
    socket_.close(ignored);  // the pending operation completes with an error
    return;
  }
  // Deadlines only move while the session runs: wake at the nearer of the deadline and
  // one io_timeout from now (a deadline moved nearer is seen then).
  watchdog_ = stakker::at<&connection::check>(
      x, std::min(deadline_, stakker::saturating_add(now, limits_.io_timeout)));
}

void connection::ended(stakker::cx<connection>& x, std::optional<session_end> how) {
  if (!how) ++stats_->broken;
  if (timed_out_) ++stats_->timed_out;
  x.core().timer_del(watchdog_);
  x.stop();  // the socket closes as the state goes
}

stakker::coro::task<session_end> connection::serve() {
  session_end end = session_end::broken;
  std::string_view reason;  // set when the client broke the protocol
  bool between = true;      // not inside a command: the stream may end here
  try {
    for (;;) {
      expect_within(limits_.idle_timeout);
      const command c = parse_command(co_await in_.line(socket_));
      expect_within(limits_.io_timeout);
      if (c.what == verb::blank) continue;
      between = false;
      if (c.what == verb::bad) {
        reason = c.error;
        break;
      }
      if (c.what == verb::quit) {
        co_await net::async_write(socket_, net::buffer(bye_reply), use_task);
        ++stats_->requests;
        end = session_end::quit;
        break;
      }
      // The key is copied out of the line: reading the value moves the buffer on.
      co_await handle(c.what, std::string(c.key), c.length);
      ++stats_->requests;
      between = true;
    }
  } catch (const stakker::asio::system_error& e) {
    if (e.code() == net::error::not_found) {
      reason = "line too long";
    } else if (e.code() == net::error::no_buffer_space) {
      reason = "busy: too many values being received";
    } else if (e.code() == net::error::eof && between && in_.buffered() == 0) {
      end = session_end::closed;
    }
  }
  if (reason.empty()) {
    if (end == session_end::broken) ++stats_->broken;
  } else {
    // What follows a malformed command cannot be parsed: say why, then close.
    end = session_end::rejected;
    ++stats_->rejected;
    const std::string text = error_line(reason);
    try {
      co_await net::async_write(socket_, net::buffer(text), use_task);
    } catch (const stakker::asio::system_error&) {
      // The client is gone already.
    }
  }
  stakker::asio::error_code ignored;
  socket_.shutdown(net::socket_base::shutdown_send, ignored);
  if (end == session_end::rejected) {
    // Closing with unread input would reset the connection, which can destroy the ERROR
    // reply before the client reads it: drop what the client still sends until it closes
    // its side, for a second at most.
    co_await stakker::coro::with_timeout(*core_, std::chrono::seconds(1), in_.skip_rest(socket_));
  }
  co_return end;
}

stakker::coro::task<void> connection::handle(verb what, std::string key, std::size_t length) {
  // The reply: a line and, for a GET that found its key, the value. It is written once
  // the command is done, by one of the two writes at the end. (Few write sites keep this
  // task's frame small: a frame over 1 KiB is not recycled, so every command would cost a
  // malloc and a free.)
  std::string_view line;
  std::string header;
  value_ptr value;  // a GET's: stays alive (shared with the store) until the write has finished
  switch (what) {
    case verb::set: {
      value_ptr v = co_await in_.value(socket_, length, input_.get());
      store_.rw(*core_)->set(std::move(key), std::move(v));
      line = ok_reply;
      break;
    }
    case verb::get:
      value = store_.ro(*core_)->get(key);
      if (value) {
        header = value_line(value->size());
        line = header;
      } else {
        line = none_reply;
      }
      break;
    case verb::del:
      line = store_.rw(*core_)->del(key) ? deleted_reply : none_reply;
      break;
    case verb::quit:
    case verb::blank:
    case verb::bad:
      co_return;  // handled by serve()
  }
  if (value) {
    const std::array<net::const_buffer, 2> reply{net::buffer(line), net::buffer(*value)};
    co_await net::async_write(socket_, reply, use_task);
  } else {
    co_await net::async_write(socket_, net::buffer(line), use_task);
  }
}

}  // namespace kv
