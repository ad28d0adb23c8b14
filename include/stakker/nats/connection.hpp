// SPDX-License-Identifier: MIT OR Apache-2.0
// nats::connection: a NATS connection driven by the runtime's epoll_loop (contract N1-N3, N5).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <nats/nats.h>

#include "stakker/core.hpp"
#include "stakker/coro/result.hpp"
#include "stakker/fwd.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/nats/error.hpp"
#include "stakker/nats/export.hpp"
#include "stakker/nats/message.hpp"
#include "stakker/nats/options.hpp"
#include "stakker/nats/subscription.hpp"
#include "stakker/ret.hpp"
#include "stakker/time.hpp"
#include "stakker/timer_key.hpp"

namespace stakker::nats {

namespace detail {
struct link;
struct sub_link;
}  // namespace detail

// A request a service received, and the ret that answers it (see connection::serve).
struct service_reply {
  std::string data;
  headers hdrs;
};
struct service_call {
  message request;
  ret<service_reply> answer;
};

// The header a service's error reply carries (with the reason as its value).
inline constexpr const char* service_error_header = "Nats-Service-Error";

// One connection to a NATS server (or cluster), owned by whoever holds its shared_ptr
// (typically an actor); every call is for the runtime's thread.
//
// Threading: the socket is read and written by the runtime's epoll_loop through the C
// client's external event loop hooks, so the runtime thread never waits for the network: a
// publish appends to the client's buffer, which the loop writes out once per run (or when
// the socket can take more). The client's own threads do what would block: the first
// connect (a thread of this connection's), reconnecting, and timers (pings). Messages leave
// the client on its delivery thread and cross to the runtime through the connection's
// inbox, so every fwd, ret and event of this connection runs on the runtime thread. TLS
// (options::secure or a tls:// URL) is the exception: the client cannot drive TLS from an
// outside loop without spinning, so a TLS connection's socket is read and written by the
// client's own threads, and a publish waits when the client's buffer is full.
class STAKKER_NATS_EXPORT connection : public std::enable_shared_from_this<connection> {
 public:
  // Starts connecting (on a thread of its own, so nothing here waits) and returns the
  // connection at once. `events` hears every state change, in order, from `connected`
  // (or `closed`, when the first connect fails) to `closed`. `ready` is answered once:
  // with a value when connected, or an actor_fail holding nats::error (a refused password,
  // an unreachable server, a bad option) and the connection is then closed. Calls made
  // before it is connected throw nats::error (NATS_NOT_YET_CONNECTED).
  //
  // Needs the runtime's epoll_loop (std::logic_error without one). Throws nats::error for
  // options the client refuses (a missing credentials file, a bad URL).
  static std::shared_ptr<connection> connect(core& c, options o, fwd<event> events,
                                             ret<coro::result<void>> ready = {});

  // Closes the connection (what is buffered is dropped; use drain to deliver it) and
  // destroys it. Answers every pending request with NATS_CONNECTION_CLOSED. May wait for a
  // connect attempt in progress on the connection's own thread (at most options::timeout).
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Publishes `data` on `subject` (no wildcards), with `reply_to` as the subject for an
  // answer (or none) and `hdrs`. Only buffers: the loop writes it out at the end of the
  // run. Throws nats::error: an invalid subject (NATS_INVALID_SUBJECT), a payload over the
  // server's max_payload (NATS_MAX_PAYLOAD), a closed connection, headers the server does
  // not support, the reconnect buffer full (NATS_INSUFFICIENT_BUFFER).
  void publish(std::string_view subject, std::string_view data, const headers& hdrs = {},
               std::string_view reply_to = {});

  // Subscribes to `subject` (wildcards `*` and `>` allowed), in `queue` group if not
  // empty (the server gives each message to one member of the group). Each message
  // reaches `to` on the runtime thread. Throws nats::error for an invalid subject or
  // queue name, or a connection that is not connected.
  subscription subscribe(std::string_view subject, fwd<message> to, std::string_view queue = {});

  // Sends a request and answers `answer` once: the first reply, or an actor_fail holding
  // nats::error: NATS_TIMEOUT after `timeout`, NATS_NO_RESPONDERS when nobody subscribes to
  // `subject`, NATS_CONNECTION_CLOSED if the connection closes first. A reply carrying the
  // service_error_header (a service that failed or dropped the call) answers an actor_fail
  // with nats::error(NATS_ERR) naming the reason. Throws nats::error as publish does.
  void request(std::string_view subject, std::string_view data, duration timeout,
               ret<coro::result<message>> answer, const headers& hdrs = {});

  // Serves `subject` (in `queue` group, if not empty): each request reaches `handler` as a
  // service_call; answering its ret publishes the reply to the requester; a ret dropped
  // unanswered (the actor failed, or forgot) publishes an error reply instead, so that the
  // requester hears at once rather than timing out. Requests without a reply subject are
  // delivered too (their answer goes nowhere).
  subscription serve(std::string_view subject, fwd<service_call> handler,
                     std::string_view queue = {});

  // Stops taking messages, delivers those already received, sends what is buffered, then
  // closes (the `closed` event follows). `done` hears the end: a value, or an actor_fail
  // holding nats::error if the drain timed out (the connection is then closed anyway).
  void drain(duration timeout, ret<coro::result<void>> done = {});

  // Closes now (idempotent): buffered publishes are dropped, pending requests answered
  // with NATS_CONNECTION_CLOSED, the `closed` event follows.
  void close();

  bool is_connected() const noexcept;
  // A subject no other subscriber will use ("_INBOX.<unique>"), for replies of one's own.
  static std::string new_inbox();
  // The runtime this connection belongs to.
  core& runtime_core() const noexcept { return core_; }
  bool is_closed() const noexcept { return closed_; }
  // The largest payload the server accepts (0 before connected).
  std::int64_t max_payload() const noexcept;
  // The C client's connection (null before connected and once closed).
  natsConnection* native() const noexcept { return nc_; }

  // Library-internal: the runtime-side steps the client's callbacks lead to.
  struct access;

 private:
  struct private_tag {};

 public:
  connection(private_tag, core& c, loop::epoll_loop& l, fwd<event> events, int priority);

 private:
  friend class subscription;
  friend struct access;

  struct sub_entry {
    enum kind_t { plain_kind, reply_kind, service_kind };
    kind_t kind = plain_kind;
    natsSubscription* sub = nullptr;
    detail::sub_link* link = nullptr;
    fwd<message> to;            // plain_kind
    fwd<service_call> service;  // service_kind
  };
  struct pending_request {
    ret<coro::result<message>> answer;
    timer_key timer;
  };

  void check_usable(const char* what) const;
  void on_connected(natsConnection* nc);
  void on_connect_failed(natsStatus s, std::string text);
  void on_event(event ev);
  void on_message(std::uint64_t sub_id, message m);
  void on_reply(message m);
  void on_ready(std::uint32_t events);
  void sync_io();
  void flush_writes();
  void unsubscribe(std::uint64_t id) noexcept;
  int pending_of(std::uint64_t id) const noexcept;
  subscription add_sub(std::string_view subject, std::string_view queue, sub_entry e);
  void expire(std::uint64_t token);
  void fail_requests(natsStatus s, const char* why);
  void finish_close(event ev);
  void answer_service(const std::string& reply_to, std::optional<service_reply> r);
  void emit(event ev) {
    if (events_) events_(std::move(ev));
  }

  core& core_;
  loop::epoll_loop& loop_;
  int priority_;
  fwd<event> events_;
  ret<coro::result<void>> ready_;
  ret<coro::result<void>> drained_;
  detail::link* link_ = nullptr;  // shared with the client's threads (counted)
  natsConnection* nc_ = nullptr;
  std::thread connecting_;  // the first connect (joined once it has reported)
  bool closed_ = false;
  int pending_msgs_ = 0;
  int pending_bytes_ = 0;
  // The socket as last registered (see sync_io).
  loop::fd_source source_;
  std::uint64_t source_gen_ = 0;
  int fd_ = -1;
  // Subscriptions by id; requests by the token ending their reply subject.
  std::uint64_t next_sub_ = 1;
  std::unordered_map<std::uint64_t, sub_entry> subs_;
  std::string inbox_prefix_;   // "_INBOX.<nuid>."
  std::string reply_subject_;  // the last request's reply subject (a reused buffer)
  subscription replies_;
  std::uint64_t next_token_ = 1;
  std::unordered_map<std::uint64_t, pending_request> requests_;
};

}  // namespace stakker::nats
