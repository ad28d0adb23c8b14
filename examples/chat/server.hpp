// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat server: a room actor, one actor per connection, and an acceptor actor, all on
// the runtime driven by the embedded epoll_loop. Over several shards (sharded.hpp), each
// shard runs one of each, and the room's replicas forward what is said to one another.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol.hpp"
#include "stakker/loop/byte_budget.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/tcp_listener.hpp"
#include "stakker/loop/tcp_stream.hpp"
#include "stakker/shard/remote.hpp"
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
  std::uint64_t broadcasts = 0;     // batches sent to the members (sharded: by each replica)
  std::uint64_t dropped = 0;        // connections ended by an error or a protocol violation
  std::uint64_t accept_errors = 0;  // accept() failures (out of descriptors, say)
  std::uint64_t members = 0;        // in the room now
};

// Holds the members and broadcasts what they say. Messages said during one run of the
// queue are batched into one string that every member receives by reference: the flush
// is queued on the lazy queue, which runs once the main queue is empty.
//
// Sharded, there is one replica of the room per shard, holding that shard's members. A
// replica's flush also hands its batch to every other replica (`relay`), which delivers it
// to its own members and forwards it nowhere. A member on another shard therefore hears
// each sender's messages in the order said: the sender's connection calls `say` in order
// (one queue), its replica batches them in order, and the relays from one shard to
// another arrive in the order made (one lane per sending thread, contract S1). Messages of
// senders on different shards may interleave differently on each shard.
class room {
 public:
  static room init(cx<room>&, server_stats* stats) { return room(stats); }

  // Sharded: the replicas on the other shards. Set once, before any member joins.
  void set_peers(cx<room>&, std::vector<shard::remote<room>> peers) { peers_ = std::move(peers); }
  // Sharded: a batch said on another shard's replica, for the members here.
  void relay(cx<room>& x, std::shared_ptr<const std::string> batch);
  // Across processes (examples/cluster): each batch said here also goes to `out` (which
  // publishes it for the other processes' replicas, whose relay hears it).
  void set_outbound(cx<room>&, fwd<std::shared_ptr<const std::string>> out) {
    outbound_ = std::move(out);
  }

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
  // Empty on one thread: the flush's loop over it is all the single-threaded server pays.
  std::vector<shard::remote<room>> peers_;
  fwd<std::shared_ptr<const std::string>> outbound_;
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

// Where one server of a sharded server stands: its shard's index among `shards` (its
// connection ids are shard + k * shards, unique over all shards), and whether it listens,
// sharing the port with the others through SO_REUSEPORT.
struct server_place {
  std::size_t shard = 0;
  std::size_t shards = 1;
  bool listen = true;
  bool reuse_port = false;
};

// Accepts connections and owns one connection actor per client; each is forgotten when
// it stops.
class server {
 public:
  static server init(cx<server>& x, loop::socket_address at, server_limits limits,
                     server_stats* stats);
  // One shard's server (sharded.hpp): its room replica was made, and introduced to the
  // others, before any listener was bound. `listening` hears the port bound (or none, if
  // binding failed: the init then fails).
  static server init_shard(cx<server>& x, loop::socket_address at, server_limits limits,
                           server_stats* stats, actor<room> replica, server_place place,
                           ret<std::uint16_t> listening);

  void ready(cx<server>& x, std::uint32_t events);
  // Hand-off (sharded.hpp): connections this server accepts go round the servers given
  // (this one, at index place.shard, among them), one each in turn.
  void set_hand_off(cx<server>&, std::vector<shard::remote<server>> to) {
    hand_off_ = std::move(to);
  }
  // A connection accepted by `origin` and handed off to this server. Its connection_slot
  // stayed with the origin's listener, lent under `ticket`, and is given back when the
  // connection ends: max_connections counts every shard's connections.
  void adopt(cx<server>& x, loop::unique_fd socket, loop::socket_address peer,
             shard::remote<server> origin, std::uint64_t ticket);
  void give_back(cx<server>&, std::uint64_t ticket) { lent_.erase(ticket); }
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

  // Makes the connection's actor; returns its id.
  std::uint64_t open(cx<server>& x, loop::accepted a);

  loop::tcp_listener listener_;
  loop::stream_options options_;  // every connection's, with the shared budgets
  actor_own<room> own_room_;      // one thread: the server's own room
  actor<room> room_;              // that room, or the shard's replica
  server_place place_;
  std::vector<shard::remote<server>> hand_off_;
  std::size_t next_hand_off_ = 0;
  std::unordered_map<std::uint64_t, loop::connection_slot> lent_;  // by ticket
  std::uint64_t next_ticket_ = 0;
  // Adopted connections, by id: whom to give the slot back to, and its ticket.
  std::unordered_map<std::uint64_t, std::pair<shard::remote<server>, std::uint64_t>> borrowed_;
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
  // One remote call per other replica, carrying the batch by reference: the transport
  // batches them further (one publish per run of this shard).
  for (const shard::remote<room>& peer : peers_) stakker::shard::call<&room::relay>(peer, batch);
  if (outbound_) outbound_(batch);
}

inline void room::relay(cx<room>&, std::shared_ptr<const std::string> batch) {
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
  s.own_room_ = make_actor<&room::init>(x, ret_failthru(x), stats);
  s.room_ = s.own_room_.ref();
  return s;
}

inline server server::init_shard(cx<server>& x, loop::socket_address at, server_limits limits,
                                 server_stats* stats, actor<room> replica, server_place place,
                                 ret<std::uint16_t> listening) {
  server s(limits, stats);
  s.room_ = std::move(replica);
  s.place_ = place;
  if (place.listen) {
    loop::epoll_loop& lp = *x.core().anymap_get<loop::epoll_loop*>();
    loop::listener_options lo;
    // The limit is the whole server's: each listener of a SO_REUSEPORT group takes its
    // share; a listener that hands off counts every shard's connections (see adopt).
    lo.max_connections = place.reuse_port
                             ? (limits.max_connections + place.shards - 1) / place.shards
                             : limits.max_connections;
    lo.reuse_port = place.reuse_port;
    s.listener_ =
        loop::tcp_listener::bind(lp, at, fwd_to<std::uint32_t, &server::ready>(x.this_actor()), lo);
    listening(s.listener_.local_address().port());
  } else {
    listening(at.port());
  }
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
    if (!hand_off_.empty()) {
      const std::size_t to = next_hand_off_++ % hand_off_.size();
      if (to != place_.shard) {
        // The descriptor crosses as a value (unique_fd); the slot stays, lent (it is not
        // thread-safe: it counts against this listener).
        const std::uint64_t ticket = next_ticket_++;
        lent_.emplace(ticket, std::move(a.slot));
        stakker::shard::call<&server::adopt>(hand_off_[to], std::move(a.socket), a.peer,
                                             hand_off_[place_.shard], ticket);
        continue;
      }
    }
    open(x, std::move(a));
  }
}

inline void server::adopt(cx<server>& x, loop::unique_fd socket, loop::socket_address peer,
                          shard::remote<server> origin, std::uint64_t ticket) {
  loop::accepted a;
  a.socket = std::move(socket);
  a.peer = peer;
  borrowed_.emplace(open(x, std::move(a)), std::make_pair(std::move(origin), ticket));
}

inline std::uint64_t server::open(cx<server>& x, loop::accepted a) {
  // One thread: 1, 2, 3... Sharded: unique over the shards, and id % shards is the shard.
  const std::uint64_t id = next_id_++ * place_.shards + place_.shard;
  ++stats_->connections;
  connections_.emplace(
      id, make_actor<&connection::init>(x, ret_to<stop_cause>(x.this_actor(), &server::closed, id),
                                        std::move(a), id, room_, options_, stats_));
  return id;
}

inline void server::closed(cx<server>&, std::uint64_t id, std::optional<stop_cause> cause) {
  if (cause && cause->has_error()) ++stats_->dropped;
  // However it ended (an error or a timeout stops it without finish()), it leaves the room:
  // otherwise every broadcast goes on calling it, and the room keeps it forever.
  call<&room::leave>(room_, id);
  connections_.erase(id);
  if (!borrowed_.empty()) {
    if (auto b = borrowed_.find(id); b != borrowed_.end()) {
      stakker::shard::call<&server::give_back>(b->second.first, b->second.second);
      borrowed_.erase(b);
    }
  }
}

}  // namespace chat
