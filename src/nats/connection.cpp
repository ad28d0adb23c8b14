// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/nats/connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "link.hpp"

namespace stakker::nats {

using detail::link;
using detail::sub_link;

// The runtime-side steps the client's callbacks lead to (their closures call these).
struct connection::access {
  static void sync_io(connection& c) { c.sync_io(); }
  static void on_event(connection& c, event ev) { c.on_event(std::move(ev)); }
  static void on_message(connection& c, std::uint64_t id, message m) {
    c.on_message(id, std::move(m));
  }
};

namespace {

// "<status text>: <details>" (the details left out when empty or the same).
std::string describe(natsStatus s, const char* text) {
  std::string out = natsStatus_GetText(s);
  if (text != nullptr && *text != '\0' && out != text) out += std::string(": ") + text;
  return out;
}

// The client's last error on this thread.
std::string last_error(natsStatus s) {
  natsStatus ls = NATS_OK;
  return describe(s, nats_GetLastError(&ls));
}

[[noreturn]] void fail(natsStatus s, const std::string& what) {
  throw error(s, "stakker::nats: " + what + " (" + last_error(s) + ")");
}

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) fail(s, what);
}

coro::actor_fail fail_with(natsStatus s, std::string text) {
  return coro::actor_fail{std::make_exception_ptr(error(s, "stakker::nats: " + text))};
}

// A subject: dot-separated non-empty tokens of printable characters without spaces; with
// `wildcards`, a token may be `*`, and the last may be `>`. One pass (it runs per publish).
bool valid_subject(std::string_view s, bool wildcards) noexcept {
  const std::size_t n = s.size();
  if (n == 0) return false;
  std::size_t token = 0;  // where the current token starts
  for (std::size_t i = 0; i < n; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u == '.') {
      if (i == token) return false;  // an empty token
      token = i + 1;
    } else if (u <= 0x20 || u == 0x7f) {
      return false;
    } else if (u == '*' || u == '>') {
      const bool alone = i == token && (i + 1 == n || s[i + 1] == '.');
      if (!wildcards || !alone || (u == '>' && i + 1 != n)) return false;
    }
  }
  return token < n;  // the last token is not empty
}

void check_subject(std::string_view s, bool wildcards) {
  if (!valid_subject(s, wildcards))
    throw error(NATS_INVALID_SUBJECT,
                "stakker::nats: invalid subject '" + std::string(s) + "' (" +
                    (wildcards ? "tokens must be non-empty, without spaces; '>' only last"
                               : "tokens must be non-empty, without spaces or wildcards") +
                    ")");
}

// Owns a natsConnection that a posted closure carries (destroyed wherever the closure is,
// if it never ran).
struct conn_owner {
  natsConnection* nc;
  explicit conn_owner(natsConnection* c) noexcept : nc(c) {}
  conn_owner(conn_owner&& o) noexcept : nc(std::exchange(o.nc, nullptr)) {}
  conn_owner(const conn_owner&) = delete;
  ~conn_owner() {
    if (nc != nullptr) natsConnection_Destroy(nc);
  }
};

// --- The client's callbacks (its threads, or the runtime's) ---------------------------

// Asks for a sync_io on the runtime thread: from inside a run of the runtime, on its lazy
// queue (once the run's calls are done, so that a run's publishes leave in one write);
// otherwise through the connection's inbox. `l->m` is held.
void queue_sync(link* l) {
  if (l->sync_queued) return;
  l->sync_queued = true;
  if (l->on_home()) {
    std::weak_ptr<connection> w = l->self->weak_from_this();
    l->home->lazy([w = std::move(w)](core&) {
      if (auto c = w.lock()) connection::access::sync_io(*c);
    });
  } else {
    l->box->post([s = l->self] { connection::access::sync_io(*s); });
  }
}

natsStatus ev_attach(void** user, void* loop, natsConnection*, natsSock fd) {
  auto* l = static_cast<link*>(loop);
  if (*user == nullptr) {
    l->ref();  // released by ev_detach
    *user = l;
  }
  std::lock_guard<std::mutex> lock(l->m);
  l->fd = static_cast<int>(fd);
  ++l->gen;
  l->attached = true;
  l->want_read = true;
  queue_sync(l);
  return NATS_OK;
}

natsStatus ev_read(void* user, bool add) {
  auto* l = static_cast<link*>(user);
  std::lock_guard<std::mutex> lock(l->m);
  bool was = l->want_read;
  l->want_read = add;
  if (add && !was) queue_sync(l);  // data may have waited meanwhile
  return NATS_OK;
}

natsStatus ev_write(void* user, bool add) {
  auto* l = static_cast<link*>(user);
  std::lock_guard<std::mutex> lock(l->m);
  l->want_write = add;
  if (add) queue_sync(l);  // removing needs nothing: edge-triggered, registered once
  return NATS_OK;
}

natsStatus ev_detach(void* user) {
  auto* l = static_cast<link*>(user);
  {
    std::lock_guard<std::mutex> lock(l->m);
    l->attached = false;
    l->want_read = l->want_write = false;
    l->fd = -1;
    queue_sync(l);
  }
  l->unref();
  return NATS_OK;
}

void post_event(link* l, event ev) {
  l->box->post([s = l->self, ev = std::move(ev)]() mutable {
    connection::access::on_event(*s, std::move(ev));
  });
}

std::string conn_error_text(natsConnection* nc) {
  const char* text = nullptr;
  natsStatus s = natsConnection_GetLastError(nc, &text);
  return s == NATS_OK ? std::string() : describe(s, text);
}

std::string connected_url(natsConnection* nc) {
  char buf[256] = {};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof buf) != NATS_OK) return {};
  return buf;
}

void on_disconnected(natsConnection* nc, void* closure) {
  post_event(static_cast<link*>(closure), {event::kind::disconnected, conn_error_text(nc)});
}

void on_reconnected(natsConnection* nc, void* closure) {
  post_event(static_cast<link*>(closure), {event::kind::reconnected, connected_url(nc)});
}

void on_lame_duck(natsConnection*, void* closure) {
  post_event(static_cast<link*>(closure), {event::kind::lame_duck, "the server is shutting down"});
}

void on_closed(natsConnection* nc, void* closure) {
  auto* l = static_cast<link*>(closure);
  post_event(l, {event::kind::closed, conn_error_text(nc)});
  l->unref();  // the last of the connection's callbacks
}

void on_async_error(natsConnection* nc, natsSubscription* sub, natsStatus s, void* closure) {
  auto* l = static_cast<link*>(closure);
  std::string text = natsStatus_GetText(s);
  std::string detail = conn_error_text(nc);
  if (!detail.empty() && detail != text) text += " (" + detail + ")";
  if (sub != nullptr) {
    const char* subj = natsSubscription_GetSubject(sub);
    if (subj != nullptr) text += std::string(" on '") + subj + "'";
  }
  post_event(l, {s == NATS_SLOW_CONSUMER ? event::kind::slow_consumer : event::kind::error,
                 std::move(text)});
}

void on_sub_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto* sl = static_cast<sub_link*>(closure);
  sl->l->box->post([s = sl->l->self, id = sl->id, msg = message(m)]() mutable {
    connection::access::on_message(*s, id, std::move(msg));
  });
}

void on_sub_complete(void* closure) { static_cast<sub_link*>(closure)->unref(); }

struct options_owner {
  natsOptions* o = nullptr;
  ~options_owner() { natsOptions_Destroy(o); }
};

int to_int_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::min<std::int64_t>(d.count(), 0x7fffffff));
}

}  // namespace

// --- connect -----------------------------------------------------------------------------

connection::connection(private_tag, core& c, loop::epoll_loop& l, fwd<event> events, int priority)
    : core_(c), loop_(l), priority_(priority), events_(std::move(events)) {}

std::shared_ptr<connection> connection::connect(core& c, options o, fwd<event> events,
                                                ret<coro::result<void>> ready) {
  loop::epoll_loop** lp = c.anymap_try_get<loop::epoll_loop*>();
  if (lp == nullptr)
    throw std::logic_error(
        "stakker::nats::connection::connect: the runtime has no epoll_loop (make it first)");
  if (o.servers.empty())
    throw error(NATS_INVALID_ARG, "stakker::nats::connection::connect: no server URL given");

  auto conn = std::make_shared<connection>(private_tag{}, c, **lp, std::move(events), o.priority);
  auto* l = new link;
  l->box = stakker::detail::inbox::make(c);
  l->home = &c;
  l->self = conn.get();
  conn->link_ = l;
  conn->ready_ = std::move(ready);
  conn->pending_msgs_ = o.pending_messages_limit;
  conn->pending_bytes_ = o.pending_bytes_limit;

  options_owner opts;
  check(natsOptions_Create(&opts.o), "natsOptions_Create");
  std::vector<const char*> urls;
  for (const std::string& s : o.servers) urls.push_back(s.c_str());
  check(natsOptions_SetServers(opts.o, urls.data(), static_cast<int>(urls.size())),
        "bad server URL");
  check(natsOptions_SetNoRandomize(opts.o, true), "options");
  if (!o.name.empty()) check(natsOptions_SetName(opts.o, o.name.c_str()), "options: name");
  if (!o.token.empty()) check(natsOptions_SetToken(opts.o, o.token.c_str()), "options: token");
  if (!o.user.empty())
    check(natsOptions_SetUserInfo(opts.o, o.user.c_str(), o.password.c_str()),
          "options: user and password");
  if (!o.credentials_file.empty())
    check(natsOptions_SetUserCredentialsFromFiles(opts.o, o.credentials_file.c_str(), nullptr),
          "options: credentials file");
  if (o.secure) check(natsOptions_SetSecure(opts.o, true), "options: TLS");
  if (!o.ca_file.empty())
    check(natsOptions_LoadCATrustedCertificates(opts.o, o.ca_file.c_str()), "options: CA file");
  if (!o.cert_file.empty() || !o.key_file.empty())
    check(natsOptions_LoadCertificatesChain(opts.o, o.cert_file.c_str(), o.key_file.c_str()),
          "options: certificate and key");
  if (!o.expected_hostname.empty())
    check(natsOptions_SetExpectedHostname(opts.o, o.expected_hostname.c_str()),
          "options: expected hostname");
  if (o.skip_server_verification)
    check(natsOptions_SkipServerVerification(opts.o, true), "options: skip verification");
  check(natsOptions_SetTimeout(opts.o, to_int_ms(o.timeout)), "options: timeout");
  check(natsOptions_SetAllowReconnect(opts.o, o.allow_reconnect), "options: reconnect");
  check(natsOptions_SetMaxReconnect(opts.o, o.max_reconnect), "options: max_reconnect");
  check(natsOptions_SetReconnectWait(opts.o, to_int_ms(o.reconnect_wait)),
        "options: reconnect_wait");
  check(natsOptions_SetReconnectBufSize(
            opts.o, static_cast<int>(std::min<std::size_t>(o.reconnect_buffer_bytes, 0x7fffffff))),
        "options: reconnect_buffer_bytes");
  check(natsOptions_SetPingInterval(opts.o, to_int_ms(o.ping_interval)), "options: ping_interval");
  check(natsOptions_SetMaxPingsOut(opts.o, o.max_pings_out), "options: max_pings_out");
  check(natsOptions_SetNoEcho(opts.o, o.no_echo), "options: no_echo");
  check(natsOptions_SetMaxPendingMsgs(opts.o, o.pending_messages_limit),
        "options: pending_messages_limit");
  // One delivery thread for every subscription of the process, not one each.
  check(natsOptions_UseGlobalMessageDelivery(opts.o, true), "options");
  // The socket on the runtime's loop, except with TLS: the C client (3.4) retries a TLS
  // read or write that would block in a loop, which from the runtime's thread would spin
  // it (and stall both directions while the server waits for it to read). A TLS
  // connection's socket is read and written by the client's own threads instead; a
  // publish then appends to the client's buffer and waits only when that is full.
  bool tls = o.secure;
  for (const std::string& s : o.servers) tls = tls || s.rfind("tls://", 0) == 0;
  if (!tls) {
    // Publishes are written by the loop (once per run), never by a flusher thread.
    check(natsOptions_SetSendAsap(opts.o, true), "options");
    check(natsOptions_SetEventLoop(opts.o, l, ev_attach, ev_read, ev_write, ev_detach),
          "options: event loop");
  }
  check(natsOptions_SetDisconnectedCB(opts.o, on_disconnected, l), "options");
  check(natsOptions_SetReconnectedCB(opts.o, on_reconnected, l), "options");
  check(natsOptions_SetClosedCB(opts.o, on_closed, l), "options");
  check(natsOptions_SetErrorHandler(opts.o, on_async_error, l), "options");
  check(natsOptions_SetLameDuckModeCB(opts.o, on_lame_duck, l), "options");

  // The first connect blocks (TCP, TLS, the handshake): a thread of its own does it.
  l->ref();  // the client's callbacks: released by on_closed, or here if connecting fails
  conn->connecting_ = std::thread([l, o = std::exchange(opts.o, nullptr)] {
    options_owner owned{o};
    natsConnection* nc = nullptr;
    natsStatus s = natsConnection_Connect(&nc, owned.o);
    if (s == NATS_OK) {
      l->box->post([self = l->self, owner = conn_owner(nc)]() mutable {
        self->on_connected(std::exchange(owner.nc, nullptr));
      });
    } else {
      std::string text = last_error(s);
      l->box->post([self = l->self, s, text = std::move(text)]() mutable {
        self->on_connect_failed(s, std::move(text));
      });
      l->unref();  // no callback comes for a connection that never was
    }
    nats_ReleaseThreadMemory();
  });
  return conn;
}

void connection::on_connected(natsConnection* nc) {
  nc_ = nc;
  if (connecting_.joinable()) connecting_.join();  // it has posted its last
  // Replies to this connection's requests: one wildcard subscription.
  inbox_prefix_ = new_inbox() + ".";
  sub_entry e;
  e.kind = sub_entry::reply_kind;
  replies_ = add_sub(inbox_prefix_ + "*", {}, std::move(e));
  sync_io();  // the socket, as attached before this closure ran
  source_.post(EPOLLIN);
  event ev{event::kind::connected, connected_url(nc)};
  // User code from here on may destroy this connection (a ret_do, a fwd_do).
  std::weak_ptr<connection> alive = weak_from_this();
  if (ready_) ready_(coro::result<void>());
  if (!alive.expired()) emit(std::move(ev));
}

void connection::on_connect_failed(natsStatus s, std::string text) {
  if (connecting_.joinable()) connecting_.join();
  closed_ = true;
  std::weak_ptr<connection> alive = weak_from_this();
  if (ready_) ready_(fail_with(s, "connecting failed: " + text));
  if (!alive.expired()) emit(event{event::kind::closed, std::move(text)});
}

// --- I/O on the loop ---------------------------------------------------------------------

void connection::sync_io() {
  int fd;
  std::uint64_t gen;
  bool attached, want_write;
  {
    std::lock_guard<std::mutex> lock(link_->m);
    link_->sync_queued = false;
    fd = link_->fd;
    gen = link_->gen;
    attached = link_->attached;
    want_write = link_->want_write;
  }
  if (!attached) {
    source_.reset();
    fd_ = -1;
    return;
  }
  if (gen != source_gen_) {
    // Edge-triggered, both ways, once per socket: reads go on until the socket is empty;
    // writes are tried when the client asks and resumed on the next EPOLLOUT edge.
    source_.reset();
    std::weak_ptr<connection> w = weak_from_this();
    source_ = loop_.add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, priority_,
                        fwd_do<std::uint32_t>([w = std::move(w)](std::uint32_t events) {
                          if (auto c = w.lock()) c->on_ready(events);
                        }));
    source_gen_ = gen;
    fd_ = fd;
    source_.post(EPOLLIN);  // what arrived before the registration
  }
  if (want_write && nc_ != nullptr) natsConnection_ProcessWriteEvent(nc_);
}

void connection::on_ready(std::uint32_t events) {
  if (nc_ == nullptr) return;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
    // The client reads at most one buffer per call, and says nothing of what it met; the
    // socket is edge-triggered, so go on until a read would block. A peek tells: data, or
    // the end of the stream (which arrives with the last data in one edge, and only a read
    // returning 0 lets the client see the connection is gone). Up to a bound, then the
    // loop's other sources have a turn.
    for (int i = 0;; ++i) {
      natsConnection_ProcessReadEvent(nc_);
      // Lost (the client closed the socket, whose number may be reused at once) or closed;
      // a draining connection reads on.
      const natsConnStatus st = natsConnection_Status(nc_);
      if (st != NATS_CONN_STATUS_CONNECTED && st != NATS_CONN_STATUS_DRAINING_SUBS &&
          st != NATS_CONN_STATUS_DRAINING_PUBS)
        break;
      char byte;
      ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EBADF)) break;
      // Data, the end of the stream, or an error (a reset): the peek took the error, so the
      // client's next read sees the end instead and the connection counts as lost.
      if (i == 15) {
        source_.post(EPOLLIN);
        break;
      }
    }
  }
  if ((events & EPOLLOUT) != 0 && nc_ != nullptr) {
    bool want_write;
    {
      std::lock_guard<std::mutex> lock(link_->m);
      want_write = link_->want_write;
    }
    if (want_write) natsConnection_ProcessWriteEvent(nc_);
  }
}

// --- events ------------------------------------------------------------------------------

void connection::on_event(event ev) {
  if (ev.what != event::kind::closed) {
    emit(std::move(ev));
    return;
  }
  // Messages delivered before the close crossed on the delivery thread's lane, the close
  // on the callback thread's: both were visible when this ran, but the lanes are taken
  // one after another. Two more passes through the inbox have taken whatever was visible
  // now, so the close is reported after every message sent before it.
  link_->box->post([s = this, ev = std::move(ev)]() mutable {
    s->link_->box->post([s, ev = std::move(ev)]() mutable { s->finish_close(std::move(ev)); });
  });
}

void connection::finish_close(event ev) {
  closed_ = true;
  source_.reset();
  fd_ = -1;
  // User code from here on may destroy this connection.
  std::weak_ptr<connection> alive = weak_from_this();
  fail_requests(NATS_CONNECTION_CLOSED, "the connection closed");
  if (alive.expired()) return;
  if (drained_) {
    ret<coro::result<void>> d = std::move(drained_);
    if (ev.text.find(natsStatus_GetText(NATS_TIMEOUT)) != std::string::npos)
      d(fail_with(NATS_TIMEOUT, "drain timed out: " + ev.text));
    else
      d(coro::result<void>());
    if (alive.expired()) return;
  }
  emit(std::move(ev));
}

// An answer may destroy this connection: only locals are used once they start.
void connection::fail_requests(natsStatus s, const char* why) {
  auto reqs = std::move(requests_);
  requests_.clear();
  core& c = core_;
  for (auto& [token, r] : reqs) c.timer_del(r.timer);
  for (auto& [token, r] : reqs) r.answer(fail_with(s, std::string(why) + " before the reply came"));
}

// --- subscriptions -----------------------------------------------------------------------

void connection::check_usable(const char* what) const {
  if (closed_)
    throw error(NATS_CONNECTION_CLOSED,
                std::string("stakker::nats: ") + what + ": the connection is closed");
  if (nc_ == nullptr)
    throw error(NATS_NOT_YET_CONNECTED,
                std::string("stakker::nats: ") + what + ": not connected yet");
}

subscription connection::add_sub(std::string_view subject, std::string_view queue, sub_entry e) {
  std::uint64_t id = next_sub_++;
  auto* sl = new sub_link(link_, id);
  std::string subj(subject);
  std::string q(queue);
  natsSubscription* sub = nullptr;
  natsStatus s = q.empty() ? natsConnection_Subscribe(&sub, nc_, subj.c_str(), on_sub_message, sl)
                           : natsConnection_QueueSubscribe(&sub, nc_, subj.c_str(), q.c_str(),
                                                           on_sub_message, sl);
  if (s != NATS_OK) {
    sl->unref();
    sl->unref();
    fail(s, "subscribing to '" + subj + "'");
  }
  if (natsSubscription_SetOnCompleteCB(sub, on_sub_complete, sl) != NATS_OK)
    sl->unref();  // already closed: no completion will come
  natsSubscription_SetPendingLimits(sub, pending_msgs_, pending_bytes_);
  e.sub = sub;
  e.link = sl;
  subs_.emplace(id, std::move(e));
  return subscription(weak_from_this(), id);
}

subscription connection::subscribe(std::string_view subject, fwd<message> to,
                                   std::string_view queue) {
  check_usable("subscribe");
  check_subject(subject, true);
  if (!queue.empty()) check_subject(queue, false);
  sub_entry e;
  e.to = std::move(to);
  return add_sub(subject, queue, std::move(e));
}

subscription connection::serve(std::string_view subject, fwd<service_call> handler,
                               std::string_view queue) {
  check_usable("serve");
  check_subject(subject, true);
  if (!queue.empty()) check_subject(queue, false);
  sub_entry e;
  e.kind = sub_entry::service_kind;
  e.service = std::move(handler);
  return add_sub(subject, queue, std::move(e));
}

void connection::unsubscribe(std::uint64_t id) noexcept {
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  sub_entry e = std::move(it->second);
  subs_.erase(it);
  natsSubscription_Unsubscribe(e.sub);
  natsSubscription_Destroy(e.sub);
  e.link->unref();
}

int connection::pending_of(std::uint64_t id) const noexcept {
  auto it = subs_.find(id);
  if (it == subs_.end()) return 0;
  int msgs = 0, bytes = 0;
  if (natsSubscription_GetPending(it->second.sub, &msgs, &bytes) != NATS_OK) return 0;
  return msgs;
}

void connection::on_message(std::uint64_t id, message m) {
  auto it = subs_.find(id);
  if (it == subs_.end()) return;  // unsubscribed meanwhile
  switch (it->second.kind) {
    case sub_entry::plain_kind: {
      fwd<message> to = it->second.to;  // the call may drop the subscription
      to(std::move(m));
      return;
    }
    case sub_entry::reply_kind:
      on_reply(std::move(m));
      return;
    case sub_entry::service_kind: {
      fwd<service_call> to = it->second.service;
      std::string reply_to(m.reply());
      std::weak_ptr<connection> w = weak_from_this();
      ret<service_reply> answer = ret_do<service_reply>(
          [w = std::move(w), reply_to = std::move(reply_to)](std::optional<service_reply> r) {
            if (auto c = w.lock()) c->answer_service(reply_to, std::move(r));
          });
      to(service_call{std::move(m), std::move(answer)});
      return;
    }
  }
}

void connection::answer_service(const std::string& reply_to, std::optional<service_reply> r) {
  if (reply_to.empty() || closed_ || nc_ == nullptr) return;
  try {
    if (r)
      publish(reply_to, r->data, r->hdrs);
    else
      publish(reply_to, {}, headers{{service_error_header, "the service dropped the request"}});
  } catch (const error&) {
    // The requester's timeout tells it; nothing else to do here (runs from a destructor).
  }
}

// --- publish and request -----------------------------------------------------------------

void connection::publish(std::string_view subject, std::string_view data, const headers& hdrs,
                         std::string_view reply_to) {
  check_usable("publish");
  check_subject(subject, false);
  if (!reply_to.empty()) check_subject(reply_to, false);
  // The client wants NUL-terminated subjects: one buffer, reused.
  thread_local std::string subj, reply;
  subj.assign(subject);
  reply.assign(reply_to);
  natsStatus s;
  if (hdrs.empty()) {
    s = reply.empty()
            ? natsConnection_Publish(nc_, subj.c_str(), data.data(), static_cast<int>(data.size()))
            : natsConnection_PublishRequest(nc_, subj.c_str(), reply.c_str(), data.data(),
                                            static_cast<int>(data.size()));
  } else {
    natsMsg* m = nullptr;
    s = natsMsg_Create(&m, subj.c_str(), reply.empty() ? nullptr : reply.c_str(), data.data(),
                       static_cast<int>(data.size()));
    for (const auto& [k, v] : hdrs) {
      if (s != NATS_OK) break;
      s = natsMsgHeader_Add(m, k.c_str(), v.c_str());
    }
    if (s == NATS_OK) s = natsConnection_PublishMsg(nc_, m);
    natsMsg_Destroy(m);
  }
  if (s != NATS_OK) {
    if (s == NATS_MAX_PAYLOAD)
      throw error(s, "stakker::nats: publish to '" + subj + "': a payload of " +
                         std::to_string(data.size()) + " bytes is over the server's limit of " +
                         std::to_string(natsConnection_GetMaxPayload(nc_)));
    fail(s, "publish to '" + subj + "'");
  }
}

void connection::request(std::string_view subject, std::string_view data, duration timeout,
                         ret<coro::result<message>> answer, const headers& hdrs) {
  if (closed_) {
    answer(fail_with(NATS_CONNECTION_CLOSED, "request: the connection is closed"));
    return;
  }
  check_usable("request");
  std::uint64_t token = next_token_++;
  // The reply subject in a buffer of the connection's, reused: no allocation per request.
  reply_subject_.assign(inbox_prefix_);
  reply_subject_ += std::to_string(token);
  publish(subject, data, hdrs, reply_subject_);
  std::weak_ptr<connection> w = weak_from_this();
  timer_key k = core_.after(timeout, [w, token](core&) {
    if (auto c = w.lock()) c->expire(token);
  });
  requests_.emplace(token, pending_request{std::move(answer), k});
}

void connection::expire(std::uint64_t token) {
  auto it = requests_.find(token);
  if (it == requests_.end()) return;
  ret<coro::result<message>> answer = std::move(it->second.answer);
  requests_.erase(it);
  answer(fail_with(NATS_TIMEOUT, "request timed out"));
}

void connection::on_reply(message m) {
  std::string_view subj = m.subject();
  if (subj.size() <= inbox_prefix_.size()) return;
  std::string_view tail = subj.substr(inbox_prefix_.size());
  std::uint64_t token = 0;
  auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), token);
  if (ec != std::errc() || p != tail.data() + tail.size()) return;
  auto it = requests_.find(token);
  if (it == requests_.end()) return;  // timed out already
  ret<coro::result<message>> answer = std::move(it->second.answer);
  core_.timer_del(it->second.timer);
  requests_.erase(it);
  if (natsMsg_IsNoResponders(m.native())) {
    answer(fail_with(NATS_NO_RESPONDERS, "no responders"));
  } else if (auto why = m.header(service_error_header)) {
    answer(fail_with(NATS_ERR, "the service failed: " + std::string(*why)));
  } else {
    answer(coro::result<message>(std::move(m)));
  }
}

// --- drain, close, destroy ---------------------------------------------------------------

void connection::drain(duration timeout, ret<coro::result<void>> done) {
  if (closed_) {
    if (done) done(coro::result<void>());
    return;
  }
  check_usable("drain");
  drained_ = std::move(done);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  natsStatus s = natsConnection_DrainTimeout(nc_, std::max<std::int64_t>(ms, 1));
  if (s != NATS_OK && s != NATS_DRAINING) {
    ret<coro::result<void>> d = std::move(drained_);
    if (d) d(fail_with(s, "drain: " + last_error(s)));
  }
}

void connection::close() {
  if (nc_ != nullptr && !closed_) natsConnection_Close(nc_);  // the closed event follows
}

std::string connection::new_inbox() {
  natsInbox* inbox = nullptr;
  check(natsInbox_Create(&inbox), "natsInbox_Create");
  std::string out(inbox);
  natsInbox_Destroy(inbox);
  return out;
}

bool connection::is_connected() const noexcept {
  return nc_ != nullptr && !closed_ && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

std::int64_t connection::max_payload() const noexcept {
  return nc_ == nullptr ? 0 : natsConnection_GetMaxPayload(nc_);
}

connection::~connection() {
  // First: nothing queued for this connection runs from now on (messages and events
  // still on their way are destroyed unrun).
  link_->box->close();
  fail_requests(NATS_CONNECTION_CLOSED, "the connection was destroyed");
  if (ready_) ready_(fail_with(NATS_CONNECTION_CLOSED, "the connection was destroyed"));
  if (drained_) drained_(fail_with(NATS_CONNECTION_CLOSED, "the connection was destroyed"));
  if (nc_ != nullptr) natsConnection_Close(nc_);
  replies_ = subscription();
  for (auto& [id, e] : subs_) {
    natsSubscription_Destroy(e.sub);
    e.link->unref();
  }
  subs_.clear();
  source_.reset();
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
  // A connect still in progress: its result is destroyed unrun (the box is closed), which
  // destroys the connection it made, on that thread.
  if (connecting_.joinable()) connecting_.join();
  link_->unref();
}

// --- subscription ------------------------------------------------------------------------

void subscription::reset() noexcept {
  if (id_ == 0) return;
  if (auto c = conn_.lock()) c->unsubscribe(id_);
  conn_.reset();
  id_ = 0;
}

subscription::operator bool() const noexcept {
  if (id_ == 0) return false;
  auto c = conn_.lock();
  return c && !c->closed_ && c->subs_.count(id_) != 0;
}

int subscription::pending() const noexcept {
  auto c = conn_.lock();
  return c ? c->pending_of(id_) : 0;
}

}  // namespace stakker::nats
