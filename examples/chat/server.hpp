// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat server: a room actor, one actor per connection, and an acceptor actor, all on
// the runtime driven by the embedded epoll_loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "protocol.hpp"
#include "stakker/loop/byte_budget.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/tcp_listener.hpp"
#include "stakker/loop/tcp_stream.hpp"
#include "stakker/stakker.hpp"

namespace chat {

using namespace stakker;

class connection;

// What the server allows its clients: the library's limits for its listener and streams.
struct server_limits {
  std::size_t max_connections = 10'000;
  std::size_t max_output = std::size_t{4} << 20;        // per client: one that lets more pile up
                                                        // unread is cut off
  std::size_t total_output = std::size_t{256} << 20;    // all clients; see stream_options
  std::size_t total_input = std::size_t{64} << 20;      // all clients
  duration idle_timeout = std::chrono::minutes(5);      // nothing sent or received
  duration line_timeout = std::chrono::seconds(30);     // a line begun must end by then
  duration closing_timeout = std::chrono::seconds(10);  // to flush what is owed at the end

  // The streams' options, with the budgets shared by all connections.
  loop::stream_options stream_options() const {
    loop::stream_options o;
    // Input never holds more than the lines of one read: complete ones are said and
    // consumed at once, and an unterminated rest of max_line bytes is an error.
    o.max_read_per_call = 64 << 10;
    o.max_input = 64 << 10;
    o.max_output = max_output;
    o.input_budget = std::make_shared<loop::byte_budget>(total_input);
    o.output_budget = std::make_shared<loop::byte_budget>(total_output);
    o.idle_timeout = idle_timeout;
    o.read_timeout = line_timeout;
    o.closing_timeout = closing_timeout;
    return o;
  }
};

// What the server counts, read by main at the end (loop level, after the run).
struct server_stats {
  std::uint64_t connections = 0;
  std::uint64_t messages = 0;       // said in the room
  std::uint64_t broadcasts = 0;     // batches sent to the members
  std::uint64_t dropped = 0;        // connections ended by an error or a protocol violation
  std::uint64_t accept_errors = 0;  // accept() failures (out of descriptors, say)
  std::uint64_t members = 0;        // in the room now
};

// Holds the members and broadcasts what they say. Messages said during one run of the
// queue are batched into one string that every member receives by reference: the flush
// is queued on the lazy queue, which runs once the main queue is empty.
class room {
 public:
  static room init(cx<room>&, server_stats* stats) { return room(stats); }

  void join(cx<room>&, std::uint64_t id, actor<connection> member) {
    members_.emplace(id, std::move(member));
    stats_->members = members_.size();
  }
  void leave(cx<room>&, std::uint64_t id) {
    members_.erase(id);
    stats_->members = members_.size();
  }

  // `lines` holds complete "SAY <text>" lines from one member, already checked.
  void say(cx<room>& x, std::uint64_t id, const std::string& lines);

  void flush(cx<room>& x);

 private:
  explicit room(server_stats* stats) : stats_(stats) {}

  std::unordered_map<std::uint64_t, actor<connection>> members_;
  std::string batch_;
  bool flush_queued_ = false;
  server_stats* stats_;
};

// One client connection: parses its input into room messages, and writes what the room
// broadcasts. Output is flushed once per run of the queue (lazily), not once per message.
class connection {
 public:
  static connection init(cx<connection>& x, loop::accepted a, std::uint64_t id, actor<room> r,
                         loop::stream_options options, server_stats* stats);

  // Readiness from the loop: read, handle whole lines, flush.
  void ready(cx<connection>& x, std::uint32_t events);
  void deliver(cx<connection>& x, std::shared_ptr<const std::string> batch);
  void flush(cx<connection>& x);

 private:
  connection(std::uint64_t id, actor<room> r, server_stats* stats)
      : id_(id), room_(std::move(r)), stats_(stats) {}

  void queue_flush(cx<connection>& x);
  // Sends an error line, leaves the room and closes after flushing.
  void reject(cx<connection>& x, std::string_view reason);
  void finish(cx<connection>& x);

  std::uint64_t id_;
  actor<room> room_;
  server_stats* stats_;
  loop::tcp_stream stream_;
  bool flush_queued_ = false;
  bool closing_ = false;
};

// Accepts connections and owns one connection actor per client; each is forgotten when
// it stops.
class server {
 public:
  static server init(cx<server>& x, loop::socket_address at, server_limits limits,
                     server_stats* stats);

  void ready(cx<server>& x, std::uint32_t events);
  void closed(cx<server>& x, std::uint64_t id, std::optional<stop_cause> cause);
  // The port actually bound (for port 0).
  std::uint16_t port() const { return listener_.local_address().port(); }
  // Connections alive (accepted, their actor not yet gone).
  std::size_t connections() const { return listener_.connections(); }
  // Every connection's options, with the budgets they share (the tests watch them).
  const loop::stream_options& stream_options() const { return options_; }

 private:
  server(const server_limits& limits, server_stats* stats)
      : options_(limits.stream_options()), stats_(stats) {}

  loop::tcp_listener listener_;
  loop::stream_options options_;  // every connection's, with the shared budgets
  actor_own<room> room_;
  std::unordered_map<std::uint64_t, actor_own<connection>> connections_;
  std::uint64_t next_id_ = 1;
  server_stats* stats_;
};

// --- room ----------------------------------------------------------------------------------

inline void room::say(cx<room>& x, std::uint64_t id, const std::string& lines) {
  const std::string from = "FROM " + std::to_string(id) + ' ';
  for_each_line(lines, [&](std::string_view line) {
    line.remove_prefix(4);  // "SAY "
    batch_ += from;
    batch_ += line;
    batch_ += '\n';
    ++stats_->messages;
    return true;
  });
  if (!flush_queued_) {
    flush_queued_ = true;
    x.lazy([self = x.this_actor()](core&) { call<&room::flush>(self); });
  }
}

inline void room::flush(cx<room>&) {
  flush_queued_ = false;
  auto batch = std::make_shared<const std::string>(std::move(batch_));
  batch_.clear();
  ++stats_->broadcasts;
  for (auto& [id, member] : members_) call<&connection::deliver>(member, batch);
}

// --- connection ----------------------------------------------------------------------------

inline connection connection::init(cx<connection>& x, loop::accepted a, std::uint64_t id,
                                   actor<room> r, loop::stream_options options,
                                   server_stats* stats) {
  connection c(id, std::move(r), stats);
  // The loop is found through the runtime's anymap, where it registered itself.
  loop::epoll_loop& lp = *x.core().anymap_get<loop::epoll_loop*>();
  c.stream_ = loop::tcp_stream(lp, std::move(a),
                               fwd_to<std::uint32_t, &connection::ready>(x.this_actor()), options);
  c.stream_.set_nodelay(true);  // lines are small and flushed once per run already
  c.stream_.write("HELLO " + std::to_string(id) + '\n');
  c.queue_flush(x);
  call<&room::join>(c.room_, id, x.this_actor());
  return c;
}

inline void connection::ready(cx<connection>& x, std::uint32_t events) {
  if (closing_) {
    flush(x);
    return;
  }
  const loop::read_result r = stream_.read(events);
  const std::string_view input = stream_.input();
  const scan_result scan = scan_input(input);
  if (scan.used != 0) {
    call<&room::say>(room_, id_, std::string(input.substr(0, scan.used)));
    stream_.consume(scan.used);
  }
  if (!scan.error.empty()) return reject(x, scan.error);
  if (r.error) {
    ++stats_->dropped;
    return x.stop();
  }
  if (r.eof) return finish(x);
  if (stream_.pending_output() != 0) flush(x);
}

inline void connection::deliver(cx<connection>& x, std::shared_ptr<const std::string> batch) {
  if (closing_) return;
  // Past the output limits the stream fails (no_buffer_space), its output freed at once:
  // the flush sees it and ends the connection. (No ERROR line: the client is not reading.)
  stream_.write(*batch);
  queue_flush(x);
}

inline void connection::queue_flush(cx<connection>& x) {
  if (flush_queued_) return;
  flush_queued_ = true;
  x.lazy([self = x.this_actor()](core&) { call<&connection::flush>(self); });
}

inline void connection::flush(cx<connection>& x) {
  flush_queued_ = false;
  if (stream_.flush()) {
    ++stats_->dropped;
    return x.stop();
  }
  // After a half-close, stop once everything owed has left.
  if (closing_ && stream_.pending_output() == 0) x.stop();
}

inline void connection::reject(cx<connection>& x, std::string_view reason) {
  ++stats_->dropped;
  stream_.write("ERROR " + std::string(reason) + '\n');
  finish(x);
}

inline void connection::finish(cx<connection>& x) {
  closing_ = true;
  call<&room::leave>(room_, id_);
  stream_.close_write();
  flush(x);
}

// --- server --------------------------------------------------------------------------------

inline server server::init(cx<server>& x, loop::socket_address at, server_limits limits,
                           server_stats* stats) {
  server s(limits, stats);
  loop::epoll_loop& lp = *x.core().anymap_get<loop::epoll_loop*>();
  loop::listener_options lo;
  lo.max_connections = limits.max_connections;
  s.listener_ =
      loop::tcp_listener::bind(lp, at, fwd_to<std::uint32_t, &server::ready>(x.this_actor()), lo);
  s.room_ = make_actor<&room::init>(x, ret_failthru(x), stats);
  return s;
}

inline void server::ready(cx<server>& x, std::uint32_t) {
  for (;;) {
    loop::accepted a = listener_.accept();
    if (a.error) {
      // E.g. out of descriptors: the connection stays queued, and the listener calls this
      // again after a pause (growing while the errors last).
      if (stats_->accept_errors++ == 0 || stats_->accept_errors % 100 == 0)
        std::fprintf(stderr, "chat server: accept: %s (%llu so far)\n", a.error.message().c_str(),
                     static_cast<unsigned long long>(stats_->accept_errors));
      return;
    }
    // None waiting, or max_connections reached (a connection ending calls this again).
    if (!a.socket) return;
    const std::uint64_t id = next_id_++;
    ++stats_->connections;
    connections_.emplace(id, make_actor<&connection::init>(
                                 x, ret_to<stop_cause>(x.this_actor(), &server::closed, id),
                                 std::move(a), id, room_.ref(), options_, stats_));
  }
}

inline void server::closed(cx<server>&, std::uint64_t id, std::optional<stop_cause> cause) {
  if (cause && cause->has_error()) ++stats_->dropped;
  // However it ended (an error or a timeout stops it without finish()), it leaves the room:
  // otherwise every broadcast goes on calling it, and the room keeps it forever.
  call<&room::leave>(room_, id);
  connections_.erase(id);
}

}  // namespace chat
