// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/tcp_stream.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "loop/net_support.hpp"
#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/fwd.hpp"
#include "stakker/loop/tcp_listener.hpp"
#include "stakker/ret.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::actor_own;
using stakker::cx;
using stakker::fwd;
using stakker::fwd_do;
using stakker::fwd_nop;
using stakker::fwd_to;
using stakker::inspect;
using stakker::make_actor;
using stakker::ret_do;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::loop::accepted;
using stakker::loop::epoll_loop;
using stakker::loop::fd_source;
using stakker::loop::read_result;
using stakker::loop::socket_address;
using stakker::loop::tcp_listener;
using stakker::loop::tcp_stream;
using stakker::loop::unique_fd;
using stakker_test::fill_pattern;
using stakker_test::first_difference;
using stakker_test::pattern;

// A stream whose readiness is counted and then handed to `on_ready` (set by each test).
// Stays where it is: the readiness callback points at it.
struct endpoint {
  tcp_stream s;
  int ready_calls = 0;
  std::uint32_t events_seen = 0;
  std::function<void(std::uint32_t)> on_ready;

  endpoint() = default;
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  fwd<std::uint32_t> ready() {
    return fwd_do<std::uint32_t>([this](std::uint32_t events) {
      ++ready_calls;
      events_seen |= events;
      if (on_ready) on_ready(events);
    });
  }
};

// Sets SIGPIPE to its default action (terminate the process) for the scope, so that a send
// without MSG_NOSIGNAL on a broken connection would kill the test run.
struct sigpipe_kills {
  struct sigaction old {};
  sigpipe_kills() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGPIPE, &dfl, &old);
  }
  ~sigpipe_kills() { ::sigaction(SIGPIPE, &old, nullptr); }
  sigpipe_kills(const sigpipe_kills&) = delete;
  sigpipe_kills& operator=(const sigpipe_kills&) = delete;
};

// Closes with SO_LINGER {1, 0}: the peer gets a reset instead of an end-of-stream.
void close_with_reset(tcp_stream& s) {
  const linger l{1, 0};
  ASSERT_EQ(::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  s.close();
}

class tcp : public stakker_test::loop_fixture {
 protected:
  // Connects `client` to a fresh loopback listener; returns the accepted socket.
  unique_fd connect_client(endpoint& client) {
    tcp_listener l =
        tcp_listener::bind(loop, socket_address::loopback_v4(0), fwd_nop<std::uint32_t>());
    client.s = tcp_stream::connect(loop, l.local_address(), client.ready());
    accepted a;
    if (!drive([&] {
          a = l.accept();
          return a.socket || a.error;
        }))
      return {};
    EXPECT_FALSE(a.error) << a.error.message();
    return std::move(a.socket);
  }

  // The address of a bound socket that does not listen: connections to it are refused.
  socket_address refusing_address() {
    refuser_ = unique_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(refuser_);
    const socket_address any_port = socket_address::loopback_v4(0);
    EXPECT_EQ(::bind(refuser_.get(), any_port.native(), any_port.native_size()), 0);
    sockaddr_storage st{};
    socklen_t len = sizeof st;
    EXPECT_EQ(::getsockname(refuser_.get(), reinterpret_cast<sockaddr*>(&st), &len), 0);
    return socket_address::from_native(reinterpret_cast<sockaddr*>(&st), len);
  }

  // As connect_client, with the accepted socket in `server` (at `server_priority`).
  void connect_pair(endpoint& client, endpoint& server, int server_priority = 5) {
    unique_fd socket = connect_client(client);
    ASSERT_TRUE(socket);
    server.s = tcp_stream(loop, std::move(socket), server.ready(), server_priority);
  }

  void end_with_readiness_queued(const std::function<void(std::unique_ptr<tcp_stream>&)>& end);

  unique_fd refuser_;
};

// --- The echo server: one actor per connection, fed by fwd_to ---

constexpr std::size_t echo_connections = 100;
constexpr std::size_t echo_bytes = std::size_t{1} << 20;

struct echo_stats {
  std::size_t accepted = 0;
  std::size_t echoed = 0;  // bytes
  std::size_t eofs = 0;
  std::size_t closed = 0;
  std::vector<std::string> errors;
};

// One accepted connection: echoes everything, and once the client has closed its side,
// finishes sending, closes, and stops.
struct echo_conn {
  tcp_stream s;
  echo_stats* st;
  bool closing = false;

  static echo_conn init(cx<echo_conn>& cx, unique_fd socket, echo_stats* st) {
    epoll_loop& loop = *cx.core().anymap_get<epoll_loop*>();
    return echo_conn{
        tcp_stream(loop, std::move(socket), fwd_to<std::uint32_t, &echo_conn::ready>(cx)), st};
  }

  // Reads with the readiness events (stopping at a short read), as servers should.
  void ready(cx<echo_conn>& cx, std::uint32_t events) {
    if (!s) return;
    const read_result r = s.read(events);
    if (r.error) return give_up(cx, "server read: " + r.error.message());
    if (const std::string_view in = s.input(); !in.empty()) {
      st->echoed += in.size();
      s.write(in);
      s.consume(in.size());
    }
    std::error_code e;
    if (r.eof && !closing) {
      ++st->eofs;
      closing = true;
      e = s.close_write();
    } else {
      e = s.flush();
    }
    if (e) return give_up(cx, "server flush: " + e.message());
    if (closing && s.pending_output() == 0) {
      s.close();
      ++st->closed;
      cx.stop();
    }
  }

  void give_up(cx<echo_conn>& cx, std::string why) {
    st->errors.push_back(std::move(why));
    s.close();
    cx.stop();
  }
};

// Accepts connections, one echo_conn actor each.
struct echo_server {
  tcp_listener listener;
  std::vector<actor_own<echo_conn>> conns;
  echo_stats* st;

  static echo_server init(cx<echo_server>& cx, echo_stats* st) {
    epoll_loop& loop = *cx.core().anymap_get<epoll_loop*>();
    return echo_server{tcp_listener::bind(loop, socket_address::loopback_v4(0),
                                          fwd_to<std::uint32_t, &echo_server::ready>(cx)),
                       {},
                       st};
  }

  void ready(cx<echo_server>& cx, std::uint32_t) {
    for (;;) {
      accepted a = listener.accept();
      if (a.error) {
        st->errors.push_back("accept: " + a.error.message());
        return;
      }
      if (!a.socket) return;
      ++st->accepted;
      auto notify = ret_do<stop_cause>([s = st](std::optional<stop_cause> c) {
        if (!c || c->kind() != stop_kind::stopped)
          s->errors.push_back("connection actor ended: " + (c ? c->text() : "(none)"));
      });
      conns.push_back(
          make_actor<&echo_conn::init>(cx.core(), std::move(notify), std::move(a.socket), st));
    }
  }

  socket_address address() const { return listener.local_address(); }
};

// One client: sends `echo_bytes` of its own pattern in chunks, at most `window` bytes
// buffered at a time, checks every echoed byte, then half-closes and waits for the
// server's end-of-stream.
struct echo_client {
  static constexpr std::size_t chunk = 16 * 1024;
  static constexpr std::size_t window = 64 * 1024;

  std::uint64_t seed;
  tcp_stream s;
  std::size_t sent = 0;
  std::size_t received = 0;
  bool closing = false;
  bool done = false;
  std::string failure;
  std::string scratch;

  explicit echo_client(std::uint64_t sd) : seed(sd) {}

  void fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
    done = true;
    s.close();
  }

  void ready() {
    if (done) return;
    const read_result r = s.read();
    if (r.error) return fail("client read: " + r.error.message());
    if (const std::string_view in = s.input(); !in.empty()) {
      if (received + in.size() > echo_bytes) return fail("more echoed than sent");
      scratch.resize(in.size());
      fill_pattern(seed, received, scratch.data(), in.size());
      if (in != scratch)
        return fail("echoed byte " + std::to_string(received + first_difference(in, scratch)) +
                    " differs");
      received += in.size();
      s.consume(in.size());
    }
    if (r.eof) {
      if (!closing) return fail("end-of-stream before the client closed its side");
      if (received != echo_bytes)
        return fail("end-of-stream after " + std::to_string(received) + " bytes");
      done = true;
      s.close();
      return;
    }
    // Writes only buffer: top up, flush, and go on until the socket would block (its
    // writability then calls ready again) or everything is out.
    for (;;) {
      while (sent < echo_bytes && s.pending_output() < window) {
        const std::size_t n = std::min(chunk, echo_bytes - sent);
        scratch.resize(n);
        fill_pattern(seed, sent, scratch.data(), n);
        s.write(scratch);
        sent += n;
      }
      std::error_code e;
      if (sent == echo_bytes && !closing) {
        closing = true;
        e = s.close_write();
      } else {
        e = s.flush();
      }
      if (e) return fail("client flush: " + e.message());
      if (sent == echo_bytes || s.pending_output() != 0) break;
    }
  }
};

TEST_F(tcp, an_echo_server_serves_100_concurrent_connections_with_1_mb_each_byte_for_byte) {
  echo_stats st;
  actor_own<echo_server> server = make_actor<&echo_server::init>(
      rt, ret_do<stop_cause>([&st](std::optional<stop_cause> c) {
        if (!c || c->kind() != stop_kind::dropped)
          st.errors.push_back("server ended: " + (c ? c->text() : "(none)"));
      }),
      &st);
  // Whatever happens below, the actors (and the sockets in them) go before the loop does.
  struct drop_first {
    actor_own<echo_server>& server;
    epoll_loop& loop;
    ~drop_first() {
      server.reset();
      for (int i = 0; i < 10; ++i) loop.turn(0ms);
    }
  } guard{server, loop};

  settle();
  const std::optional<socket_address> at =
      inspect(rt, server, [](echo_server& s) { return s.address(); });
  ASSERT_TRUE(at.has_value());
  ASSERT_NE(at->port(), 0);

  std::vector<std::unique_ptr<echo_client>> clients;
  for (std::size_t i = 0; i < echo_connections; ++i) {
    auto c = std::make_unique<echo_client>(0x5EED0000u + i);
    c->s = tcp_stream::connect(loop, *at,
                               fwd_do<std::uint32_t>([p = c.get()](std::uint32_t) { p->ready(); }));
    clients.push_back(std::move(c));
  }

  const auto all_done = [&] {
    std::size_t finished = 0;
    for (const auto& c : clients) {
      if (!c->failure.empty()) return true;
      if (c->done) ++finished;
    }
    return !st.errors.empty() || (finished == clients.size() && st.closed == echo_connections);
  };
  ASSERT_TRUE(drive(all_done, 60s));

  EXPECT_TRUE(st.errors.empty()) << st.errors.front();
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const echo_client& c = *clients[i];
    EXPECT_EQ(c.failure, "") << "client " << i;
    EXPECT_EQ(c.sent, echo_bytes) << "client " << i;
    EXPECT_EQ(c.received, echo_bytes) << "client " << i;
    EXPECT_TRUE(c.done) << "client " << i;
  }
  EXPECT_EQ(st.accepted, echo_connections);
  EXPECT_EQ(st.echoed, echo_connections * echo_bytes);
  EXPECT_EQ(st.eofs, echo_connections);
  EXPECT_EQ(st.closed, echo_connections);
}

// --- Peer reset ---

TEST_F(tcp, a_peer_reset_reaches_a_reader_as_connection_reset_from_read_and_every_later_call) {
  sigpipe_kills guard;
  endpoint c, s;
  connect_pair(c, s);
  settle();
  close_with_reset(s.s);
  const int before = c.ready_calls;
  ASSERT_TRUE(drive([&] { return c.ready_calls > before; }));
  EXPECT_NE(c.events_seen & (EPOLLERR | EPOLLHUP), 0u);

  read_result r;
  EXPECT_NO_THROW(r = c.s.read());
  EXPECT_EQ(r.error, std::errc::connection_reset) << r.error.message();
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_FALSE(r.eof);
  EXPECT_EQ(c.s.error(), std::errc::connection_reset);
  EXPECT_TRUE(c.s);  // failed, not closed

  // The same error again, as a value, from each later call.
  EXPECT_EQ(c.s.read().error, std::errc::connection_reset);
  EXPECT_EQ(c.s.flush(), std::errc::connection_reset);
  c.s.write("discarded");
  EXPECT_EQ(c.s.pending_output(), 0u);
  EXPECT_EQ(c.s.flush(), std::errc::connection_reset);
  EXPECT_EQ(c.s.close_write(), std::errc::connection_reset);
  EXPECT_EQ(c.s.read().error, std::errc::connection_reset);
  EXPECT_TRUE(c.s.input().empty());
}

TEST_F(tcp, a_peer_reset_reaches_a_writer_as_an_error_from_flush_and_the_output_is_dropped) {
  sigpipe_kills guard;
  endpoint c, s;
  connect_pair(c, s);
  settle();
  // More than the socket buffers take while the peer reads nothing: output stays pending.
  c.s.write(pattern(7, std::size_t{16} << 20));
  EXPECT_FALSE(c.s.flush());
  ASSERT_GT(c.s.pending_output(), 0u);
  close_with_reset(s.s);
  const int before = c.ready_calls;
  ASSERT_TRUE(drive([&] { return c.ready_calls > before; }));

  std::error_code e;
  EXPECT_NO_THROW(e = c.s.flush());
  EXPECT_TRUE(e == std::errc::connection_reset || e == std::errc::broken_pipe) << e.message();
  EXPECT_EQ(c.s.pending_output(), 0u);
  EXPECT_EQ(c.s.error(), e);
  EXPECT_EQ(c.s.flush(), e);
  EXPECT_EQ(c.s.read().error, e);
  c.s.write("more");
  EXPECT_EQ(c.s.pending_output(), 0u);
  EXPECT_EQ(c.s.flush(), e);
}

// Once the kernel has reported the reset (here taken with SO_ERROR), sending on the dead
// connection is EPIPE, which raises SIGPIPE unless the send says MSG_NOSIGNAL.
TEST_F(tcp, a_flush_on_a_connection_known_to_be_dead_returns_broken_pipe_without_sigpipe) {
  sigpipe_kills guard;
  endpoint c, s;
  connect_pair(c, s);
  settle();
  close_with_reset(s.s);
  const int before = c.ready_calls;
  ASSERT_TRUE(drive([&] { return c.ready_calls > before; }));
  int err = 0;
  socklen_t len = sizeof err;
  ASSERT_EQ(::getsockopt(c.s.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, ECONNRESET);

  c.s.write("into the void");
  std::error_code e;
  EXPECT_NO_THROW(e = c.s.flush());
  EXPECT_EQ(e, std::errc::broken_pipe) << e.message();
  EXPECT_EQ(c.s.pending_output(), 0u);
  EXPECT_EQ(c.s.flush(), std::errc::broken_pipe);
  EXPECT_EQ(c.s.read().error, std::errc::broken_pipe);
}

// --- Half-close ---

TEST_F(tcp, after_a_half_close_the_server_reads_to_eof_and_still_sends_its_full_reply) {
  endpoint c, s;
  connect_pair(c, s);
  const std::string request = pattern(11, 300'000);
  const std::string reply = pattern(12, 700'000);
  std::string at_server, at_client;
  bool replied = false;
  bool client_eof = false;
  std::vector<std::string> errors;

  s.on_ready = [&](std::uint32_t events) {
    // With the events: the end-of-stream must be seen though reads stop short.
    const read_result r = s.s.read(events);
    if (r.error) errors.push_back("server read: " + r.error.message());
    at_server.append(s.s.input());
    s.s.consume(s.s.input().size());
    std::error_code e;
    if (r.eof && !replied) {
      replied = true;
      EXPECT_TRUE(s.s.input_eof());
      EXPECT_TRUE(at_server == request)
          << "request differs at byte " << first_difference(at_server, request);
      // End-of-stream is sticky and reads nothing more.
      const read_result again = s.s.read();
      EXPECT_TRUE(again.eof);
      EXPECT_EQ(again.bytes, 0u);
      EXPECT_FALSE(again.error);
      s.s.write(reply);
      e = s.s.close_write();
    } else {
      e = s.s.flush();
    }
    if (e) errors.push_back("server flush: " + e.message());
  };
  c.on_ready = [&](std::uint32_t) {
    if (const std::error_code e = c.s.flush()) errors.push_back("client flush: " + e.message());
    const read_result r = c.s.read();
    if (r.error) errors.push_back("client read: " + r.error.message());
    at_client.append(c.s.input());
    c.s.consume(c.s.input().size());
    if (r.eof) client_eof = true;
  };

  c.s.write(request);
  EXPECT_FALSE(c.s.close_write());
  EXPECT_THROW(c.s.write("late"), std::logic_error);
  ASSERT_TRUE(drive([&] { return client_eof || !errors.empty(); }));

  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_TRUE(replied);
  EXPECT_TRUE(s.s.input_eof());
  EXPECT_EQ(at_server.size(), request.size());
  EXPECT_EQ(at_client.size(), reply.size());
  EXPECT_TRUE(at_client == reply) << "reply differs at byte " << first_difference(at_client, reply);
  EXPECT_TRUE(c.s.input_eof());
  EXPECT_EQ(s.s.pending_output(), 0u);
  EXPECT_EQ(c.s.pending_output(), 0u);
}

// A connect still in progress: the listener's accept queue (backlog 0) is full, so the
// kernel drops the SYN and the client stays in SYN_SENT until it retransmits (after about
// 1 s). A half-close asked for meanwhile must wait for the connection, not abort it.
TEST_F(tcp, close_write_while_the_connect_is_in_progress_half_closes_once_connected) {
  int listener_calls = 0;
  tcp_listener l = tcp_listener::bind(
      loop, socket_address::loopback_v4(0),
      fwd_do<std::uint32_t>([&listener_calls](std::uint32_t) { ++listener_calls; }), 5, 0);
  endpoint first, second;
  first.s = tcp_stream::connect(loop, l.local_address(), first.ready());
  ASSERT_TRUE(drive([&] { return listener_calls > 0; }));
  second.s = tcp_stream::connect(loop, l.local_address(), second.ready());
  settle();
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  ASSERT_EQ(::getpeername(second.s.native_handle(), reinterpret_cast<sockaddr*>(&peer), &len), -1)
      << "the second connect was not held up";
  ASSERT_EQ(errno, ENOTCONN);

  bool second_eof = false;
  std::string reply;
  second.on_ready = [&](std::uint32_t) {
    if (const std::error_code e = second.s.flush()) ADD_FAILURE() << "flush: " << e.message();
    const read_result r = second.s.read();
    EXPECT_FALSE(r.error) << r.error.message();
    reply.append(second.s.input());
    second.s.consume(second.s.input().size());
    second_eof = second_eof || r.eof;
  };
  EXPECT_FALSE(second.s.close_write());  // nothing to send: only the end-of-stream

  // Make room in the accept queue; the retransmitted SYN then gets through.
  std::vector<unique_fd> taken;
  endpoint server;
  bool server_eof = false;
  server.on_ready = [&](std::uint32_t) {
    const read_result r = server.s.read();
    EXPECT_FALSE(r.error) << r.error.message();
    EXPECT_EQ(server.s.input(), "");
    if (r.eof && !server_eof) {
      server_eof = true;
      server.s.write("bye");
      EXPECT_FALSE(server.s.close_write());
    } else {
      EXPECT_FALSE(server.s.flush());
    }
  };
  ASSERT_TRUE(drive(
      [&] {
        for (accepted a = l.accept(); a.socket; a = l.accept()) {
          if (a.peer == second.s.local_address())
            server.s = tcp_stream(loop, std::move(a.socket), server.ready());
          else
            taken.push_back(std::move(a.socket));
        }
        return second_eof || second.s.error();
      },
      10s));
  EXPECT_FALSE(second.s.error()) << second.s.error().message();
  EXPECT_TRUE(server_eof);
  EXPECT_EQ(reply, "bye");
}

// --- Connect refused ---

TEST_F(tcp, connecting_to_a_closed_port_calls_ready_then_read_and_flush_return_refused) {
  const socket_address closed = refusing_address();

  endpoint c;
  c.s = tcp_stream::connect(loop, closed, c.ready());
  ASSERT_TRUE(c.s);
  c.s.write("hello?");  // buffered before the outcome is known
  ASSERT_TRUE(drive([&] { return c.ready_calls > 0; }));

  read_result r;
  EXPECT_NO_THROW(r = c.s.read());
  EXPECT_EQ(r.error, std::errc::connection_refused) << r.error.message();
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_FALSE(r.eof);
  EXPECT_EQ(c.s.flush(), std::errc::connection_refused);
  EXPECT_EQ(c.s.pending_output(), 0u);
  EXPECT_EQ(c.s.error(), std::errc::connection_refused);
}

TEST_F(tcp, a_refused_connect_is_also_reported_by_a_flush_with_output_pending) {
  const socket_address closed = refusing_address();

  endpoint c;
  c.s = tcp_stream::connect(loop, closed, c.ready());
  c.s.write("hello?");
  ASSERT_TRUE(drive([&] { return c.ready_calls > 0; }));
  std::error_code e;
  EXPECT_NO_THROW(e = c.s.flush());
  EXPECT_EQ(e, std::errc::connection_refused) << e.message();
  EXPECT_EQ(c.s.pending_output(), 0u);
  EXPECT_EQ(c.s.read().error, std::errc::connection_refused);
}

TEST_F(tcp, a_refused_connect_with_a_half_close_pending_is_reported_by_flush) {
  const socket_address closed = refusing_address();
  endpoint c;
  c.s = tcp_stream::connect(loop, closed, c.ready());
  std::error_code first = c.s.close_write();  // may already know, or not yet
  EXPECT_TRUE(!first || first == std::errc::connection_refused) << first.message();
  ASSERT_TRUE(drive([&] { return c.ready_calls > 0; }));
  EXPECT_EQ(c.s.flush(), std::errc::connection_refused);
  EXPECT_EQ(c.s.read().error, std::errc::connection_refused);
}

// A client that only writes learns of the refusal from flush, with nothing buffered: the
// edge-triggered readiness that reported it comes once.
TEST_F(tcp, a_refused_connect_is_reported_by_a_flush_with_nothing_buffered) {
  const socket_address closed = refusing_address();
  endpoint c;
  c.s = tcp_stream::connect(loop, closed, c.ready());
  ASSERT_TRUE(drive([&] { return c.ready_calls > 0; }));
  std::error_code e;
  EXPECT_NO_THROW(e = c.s.flush());
  EXPECT_EQ(e, std::errc::connection_refused) << e.message();
  EXPECT_EQ(c.s.error(), std::errc::connection_refused);
  EXPECT_EQ(c.s.flush(), std::errc::connection_refused);
  EXPECT_EQ(c.s.read().error, std::errc::connection_refused);
}

TEST_F(tcp, a_flush_with_nothing_buffered_during_a_connect_that_succeeds_is_no_error) {
  tcp_listener l =
      tcp_listener::bind(loop, socket_address::loopback_v4(0), fwd_nop<std::uint32_t>());
  endpoint c;
  c.s = tcp_stream::connect(loop, l.local_address(), c.ready());
  EXPECT_FALSE(c.s.flush());  // still connecting, or connected: either way no error
  accepted a;
  ASSERT_TRUE(drive([&] {
    a = l.accept();
    return a.socket || a.error;
  }));
  ASSERT_TRUE(a.socket);
  ASSERT_TRUE(drive([&] { return c.ready_calls > 0; }));
  EXPECT_FALSE(c.s.flush());
  c.s.write("hi");
  EXPECT_FALSE(c.s.flush());
  char buf[8];
  ssize_t n = -1;
  ASSERT_TRUE(drive([&] {
    n = ::recv(a.socket.get(), buf, sizeof buf, MSG_DONTWAIT);
    return n > 0;
  }));
  EXPECT_EQ(std::string_view(buf, static_cast<std::size_t>(n)), "hi");
}

// --- tcp_listener ---

TEST_F(tcp, a_listener_on_port_0_gets_a_real_port_and_accepts_a_loopback_peer) {
  int calls = 0;
  tcp_listener l = tcp_listener::bind(loop, socket_address::loopback_v4(0),
                                      fwd_do<std::uint32_t>([&calls](std::uint32_t) { ++calls; }));
  ASSERT_TRUE(l);
  const socket_address at = l.local_address();
  EXPECT_NE(at.port(), 0);
  EXPECT_EQ(at, socket_address::loopback_v4(at.port()));

  // Nothing waiting: no socket and no error.
  accepted none = l.accept();
  EXPECT_FALSE(none.socket);
  EXPECT_FALSE(none.error);

  endpoint c;
  c.s = tcp_stream::connect(loop, at, c.ready());
  ASSERT_TRUE(drive([&] { return calls > 0; }));
  accepted a = l.accept();
  ASSERT_TRUE(a.socket);
  EXPECT_FALSE(a.error);
  EXPECT_EQ(a.peer.family(), AF_INET);
  EXPECT_EQ(a.peer, socket_address::loopback_v4(a.peer.port()));
  EXPECT_EQ(a.peer, c.s.local_address());
  // Non-blocking and close-on-exec.
  EXPECT_NE(::fcntl(a.socket.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(a.socket.get(), F_GETFD) & FD_CLOEXEC, 0);
  accepted again = l.accept();
  EXPECT_FALSE(again.socket);
  EXPECT_FALSE(again.error);

  endpoint s;
  s.s = tcp_stream(loop, std::move(a.socket), s.ready());
  EXPECT_EQ(s.s.local_address(), at);
  EXPECT_EQ(s.s.peer_address(), c.s.local_address());
  EXPECT_EQ(c.s.peer_address(), at);

  l.close();
  EXPECT_FALSE(l);
  EXPECT_EQ(l.native_handle(), -1);
}

TEST_F(tcp, binding_a_port_in_use_throws_system_error_naming_the_address) {
  tcp_listener first =
      tcp_listener::bind(loop, socket_address::loopback_v4(0), fwd_nop<std::uint32_t>());
  const socket_address at = first.local_address();
  try {
    tcp_listener second = tcp_listener::bind(loop, at, fwd_nop<std::uint32_t>());
    ADD_FAILURE() << "bound " << at.to_string() << " twice";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
    EXPECT_NE(std::string(e.what()).find(at.to_string()), std::string::npos) << e.what();
  }
  // The failed bind registered nothing and leaked nothing: the loop still works.
  endpoint c;
  c.s = tcp_stream::connect(loop, at, c.ready());
  ASSERT_TRUE(drive([&] { return c.ready_calls > 0; }));
  EXPECT_FALSE(c.s.read().error);
}

TEST_F(tcp, streams_work_over_ipv6_loopback) {
  tcp_listener l;
  try {
    l = tcp_listener::bind(loop, socket_address::loopback_v6(0), fwd_nop<std::uint32_t>());
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  const socket_address at = l.local_address();
  EXPECT_EQ(at.family(), AF_INET6);
  EXPECT_EQ(at, socket_address::loopback_v6(at.port()));
  endpoint c, s;
  c.s = tcp_stream::connect(loop, at, c.ready());
  accepted a;
  ASSERT_TRUE(drive([&] {
    a = l.accept();
    return a.socket || a.error;
  }));
  ASSERT_TRUE(a.socket);
  EXPECT_EQ(a.peer, socket_address::loopback_v6(a.peer.port()));
  EXPECT_EQ(a.peer.to_string(), "[::1]:" + std::to_string(a.peer.port()));
  s.s = tcp_stream(loop, std::move(a.socket), s.ready());
  c.s.write("over six");
  EXPECT_FALSE(c.s.flush());
  std::string got;
  s.on_ready = [&](std::uint32_t) {
    EXPECT_FALSE(s.s.read().error);
    got.append(s.s.input());
    s.s.consume(s.s.input().size());
  };
  ASSERT_TRUE(drive([&] { return got.size() == 8; }));
  EXPECT_EQ(got, "over six");
}

// --- Lifetime and misuse ---

// Ends a stream (by `end`) while readiness for it is queued inside the loop: a
// higher-priority source ready in the same turn keeps the stream's readiness waiting.
// Nothing may be delivered afterwards, and the callback must be released at once.
void tcp::end_with_readiness_queued(const std::function<void(std::unique_ptr<tcp_stream>&)>& end) {
  endpoint c;
  unique_fd socket = connect_client(c);
  ASSERT_TRUE(socket);
  auto token = std::make_shared<int>(0);
  int calls = 0;
  auto victim = std::make_unique<tcp_stream>(
      loop, std::move(socket), fwd_do<std::uint32_t>([token, &calls](std::uint32_t) { ++calls; }),
      1);
  EXPECT_EQ(token.use_count(), 2);  // the loop holds the callback
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  unique_fd pipe_r(fds[0]), pipe_w(fds[1]);
  int high_calls = 0;
  fd_source high = loop.add(pipe_r.get(), EPOLLIN, 10,
                            fwd_do<std::uint32_t>([&high_calls](std::uint32_t) { ++high_calls; }));
  settle();
  const int calls_before = calls;

  c.s.write("data");
  ASSERT_FALSE(c.s.flush());
  ASSERT_EQ(::write(pipe_w.get(), "x", 1), 1);
  loop.turn(0ms);  // both are read from the kernel; only the higher level is delivered
  EXPECT_EQ(high_calls, 1);
  EXPECT_EQ(calls, calls_before);

  end(victim);
  EXPECT_EQ(token.use_count(), 1);  // the callback is released
  for (int i = 0; i < 5; ++i) loop.turn(0ms);
  EXPECT_EQ(calls, calls_before);
}

TEST_F(tcp, a_destroyed_stream_gets_no_more_readiness_even_if_some_was_already_queued) {
  end_with_readiness_queued([](std::unique_ptr<tcp_stream>& s) { s.reset(); });
}

TEST_F(tcp, a_closed_stream_gets_no_more_readiness_even_if_some_was_already_queued) {
  end_with_readiness_queued([](std::unique_ptr<tcp_stream>& s) {
    s->close();
    EXPECT_FALSE(*s);
  });
}

TEST_F(tcp, a_stream_assigned_over_gets_no_more_readiness_even_if_some_was_already_queued) {
  end_with_readiness_queued([](std::unique_ptr<tcp_stream>& s) { *s = tcp_stream(); });
}

// The stream's own callback destroys the stream (as an actor stopping from its readiness
// handler does): the callback, holding a counted, is released once and never called again.
TEST_F(tcp, a_ready_callback_may_destroy_its_own_stream) {
  stakker::testing::counts counts;
  {
    endpoint c;
    unique_fd socket = connect_client(c);
    ASSERT_TRUE(socket);
    settle();
    std::unique_ptr<tcp_stream> own;
    int calls = 0;
    own = std::make_unique<tcp_stream>(
        loop, std::move(socket),
        fwd_do<std::uint32_t>([&own, &calls, k = stakker::testing::counted(counts)](std::uint32_t) {
          (void)k.value();
          ++calls;
          own->read();
          own.reset();
          (void)k.value();  // still intact after its stream went
        }));
    c.s.write("data");
    ASSERT_FALSE(c.s.flush());
    ASSERT_TRUE(drive([&] { return calls > 0; }));
    EXPECT_FALSE(own);
    EXPECT_EQ(counts.alive(), 0);
    c.s.write("more");
    (void)c.s.flush();
    for (int i = 0; i < 5; ++i) loop.turn(0ms);
    EXPECT_EQ(calls, 1);
  }
  EXPECT_TRUE(counts.balanced());
}

// A throwing readiness callback propagates out of turn; the stream keeps working.
TEST_F(tcp, a_throwing_ready_callback_propagates_from_turn_and_the_stream_goes_on) {
  endpoint c, s;
  connect_pair(c, s);
  settle();
  std::string got;
  bool thrown = false;
  s.on_ready = [&](std::uint32_t events) {
    (void)s.s.read(events);
    got.append(s.s.input());
    s.s.consume(s.s.input().size());
    if (!got.empty() && !thrown) {
      thrown = true;
      throw std::runtime_error("handler broke");
    }
  };
  c.s.write("one");
  ASSERT_FALSE(c.s.flush());
  bool caught = false;
  const auto deadline = stakker::clock::now() + 10s;
  while (!caught && stakker::clock::now() < deadline) {
    try {
      loop.turn(50ms);
    } catch (const std::runtime_error&) {
      caught = true;
    }
  }
  EXPECT_TRUE(caught);
  c.s.write("two");
  ASSERT_FALSE(c.s.flush());
  ASSERT_TRUE(drive([&] { return got == "onetwo"; }));
}

TEST_F(tcp, close_deregisters_at_once_and_the_peer_sees_end_of_stream) {
  endpoint c, s;
  connect_pair(c, s);
  settle();
  const int server_calls = s.ready_calls;
  s.s.close();
  EXPECT_FALSE(s.s);
  EXPECT_EQ(s.s.native_handle(), -1);
  s.s.close();  // twice is harmless

  bool client_eof = false;
  c.on_ready = [&](std::uint32_t) {
    const read_result r = c.s.read();
    EXPECT_FALSE(r.error) << r.error.message();
    client_eof = client_eof || r.eof;
  };
  ASSERT_TRUE(drive([&] { return client_eof; }));
  // Readiness that arrives in the kernel for a closed stream reaches nobody.
  c.s.write("anyone?");
  (void)c.s.flush();
  for (int i = 0; i < 5; ++i) loop.turn(0ms);
  EXPECT_EQ(s.ready_calls, server_calls);
}

TEST_F(tcp, reading_or_flushing_a_closed_or_default_stream_is_a_logic_error) {
  tcp_stream d;
  EXPECT_FALSE(d);
  EXPECT_EQ(d.native_handle(), -1);
  EXPECT_THROW(d.read(), std::logic_error);
  EXPECT_THROW(d.flush(), std::logic_error);
  EXPECT_THROW(d.close_write(), std::logic_error);
  d.close();
  EXPECT_FALSE(d);

  endpoint c, s;
  connect_pair(c, s);
  c.s.close();
  EXPECT_THROW(c.s.read(), std::logic_error);
  EXPECT_THROW(c.s.flush(), std::logic_error);
  EXPECT_TRUE(c.s.input().empty());
  EXPECT_EQ(c.s.pending_output(), 0u);

  // A moved-from stream is closed too.
  tcp_stream moved = std::move(s.s);
  EXPECT_TRUE(moved);
  EXPECT_FALSE(s.s);  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_THROW(s.s.read(), std::logic_error);
}

TEST_F(tcp, writing_after_close_write_is_a_logic_error) {
  endpoint c, s;
  connect_pair(c, s);
  settle();
  c.s.write("last words");
  EXPECT_FALSE(c.s.close_write());
  EXPECT_THROW(c.s.write("more"), std::logic_error);
  EXPECT_THROW(c.s.write(""), std::logic_error);
  // The data before it still arrives, then end-of-stream.
  std::string got;
  bool eof = false;
  s.on_ready = [&](std::uint32_t) {
    const read_result r = s.s.read();
    got.append(s.s.input());
    s.s.consume(s.s.input().size());
    eof = eof || r.eof;
  };
  ASSERT_TRUE(drive([&] { return eof; }));
  EXPECT_EQ(got, "last words");
}

TEST_F(tcp, consuming_more_input_than_there_is_throws_out_of_range) {
  endpoint c, s;
  connect_pair(c, s);
  c.s.write("abc");
  ASSERT_FALSE(c.s.flush());
  ASSERT_TRUE(drive([&] {
    EXPECT_FALSE(s.s.read().error);
    return s.s.input().size() == 3;
  }));
  EXPECT_THROW(s.s.consume(4), std::out_of_range);
  EXPECT_EQ(s.s.input(), "abc");
  s.s.consume(1);
  EXPECT_EQ(s.s.input(), "bc");
}

// --- Large writes ---

TEST_F(tcp, one_8_mb_write_is_flushed_over_several_readiness_turns_and_arrives_intact) {
  endpoint c, s;
  connect_pair(c, s);
  c.s.set_nodelay(true);
  // Small socket buffers (no autotuning): the 8 MB cannot go out in one or two sends.
  const int small = 64 * 1024;
  ASSERT_EQ(::setsockopt(c.s.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  ASSERT_EQ(::setsockopt(s.s.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  settle();
  const std::string big = pattern(99, std::size_t{8} << 20);
  std::string got;
  got.reserve(big.size());
  int flushes_with_progress = 0;
  std::vector<std::string> errors;

  c.on_ready = [&](std::uint32_t) {
    const std::size_t before = c.s.pending_output();
    if (before == 0) return;
    if (const std::error_code e = c.s.flush()) errors.push_back("flush: " + e.message());
    if (c.s.pending_output() < before) ++flushes_with_progress;
  };
  s.on_ready = [&](std::uint32_t) {
    const read_result r = s.s.read();
    if (r.error) errors.push_back("read: " + r.error.message());
    got.append(s.s.input());
    s.s.consume(s.s.input().size());
  };

  c.s.write(big);
  EXPECT_EQ(c.s.pending_output(), big.size());
  EXPECT_FALSE(c.s.flush());
  ++flushes_with_progress;
  EXPECT_GT(c.s.pending_output(), 0u) << "8 MB went out in one send";
  EXPECT_LT(c.s.pending_output(), big.size());
  ASSERT_TRUE(drive([&] { return got.size() >= big.size() || !errors.empty(); }));

  EXPECT_TRUE(errors.empty()) << errors.front();
  RecordProperty("flushes", flushes_with_progress);
  EXPECT_GE(flushes_with_progress, 4);
  EXPECT_EQ(c.s.pending_output(), 0u);
  ASSERT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big) << "differs at byte " << first_difference(got, big);
}

// --- send: write + flush without the copy ---

TEST_F(tcp, send_with_nothing_pending_goes_straight_to_the_socket_and_buffers_nothing) {
  endpoint c, s;
  connect_pair(c, s);
  settle();  // the connect is seen done: send takes its direct path
  std::string got;
  s.on_ready = [&](std::uint32_t) {
    s.s.read();
    got.append(s.s.input());
    s.s.consume(s.s.input().size());
  };
  for (int i = 0; i < 3; ++i) {
    std::string piece = "piece " + std::to_string(i) + ";";
    EXPECT_FALSE(c.s.send(piece));
    piece.assign(piece.size(), 'x');  // sent from the caller's bytes, not kept
    EXPECT_EQ(c.s.pending_output(), 0u);
  }
  ASSERT_TRUE(drive([&] { return got.size() >= 24; }));
  EXPECT_EQ(got, "piece 0;piece 1;piece 2;");
}

TEST_F(tcp, send_buffers_what_the_socket_refuses_and_later_bytes_keep_their_order) {
  endpoint c, s;
  connect_pair(c, s);
  const int small = 64 * 1024;
  ASSERT_EQ(::setsockopt(c.s.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  ASSERT_EQ(::setsockopt(s.s.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  settle();
  const std::string big = pattern(7, std::size_t{4} << 20);
  std::string got;
  std::vector<std::string> errors;
  c.on_ready = [&](std::uint32_t) {
    if (const std::error_code e = c.s.flush()) errors.push_back("flush: " + e.message());
  };
  s.on_ready = [&](std::uint32_t) {
    const read_result r = s.s.read();
    if (r.error) errors.push_back("read: " + r.error.message());
    got.append(s.s.input());
    s.s.consume(s.s.input().size());
  };
  EXPECT_FALSE(c.s.send(big));
  EXPECT_GT(c.s.pending_output(), 0u) << "4 MB went out in one send";
  EXPECT_LT(c.s.pending_output(), big.size());
  // Behind output still pending, a send is buffered after it.
  EXPECT_FALSE(c.s.send("tail"));
  ASSERT_TRUE(drive([&] { return got.size() >= big.size() + 4 || !errors.empty(); }));
  EXPECT_TRUE(errors.empty()) << errors.front();
  ASSERT_EQ(got.size(), big.size() + 4);
  EXPECT_TRUE(got.compare(0, big.size(), big) == 0)
      << "differs at byte " << first_difference(got.substr(0, big.size()), big);
  EXPECT_EQ(got.substr(big.size()), "tail");
}

TEST_F(tcp, send_on_a_closed_stream_or_after_close_write_is_a_logic_error) {
  endpoint c, s;
  connect_pair(c, s);
  settle();
  EXPECT_FALSE(c.s.close_write());
  EXPECT_THROW(c.s.send("more"), std::logic_error);
  tcp_stream none;
  EXPECT_THROW(none.send("x"), std::logic_error);
}

TEST_F(tcp, send_to_a_peer_that_reset_returns_the_error_and_later_flushes_return_it_too) {
  endpoint c, s;
  connect_pair(c, s);
  settle();
  const linger hard{1, 0};  // close with RST
  ASSERT_EQ(::setsockopt(s.s.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
  s.s.close();
  settle();
  std::error_code e;
  for (int i = 0; i < 100 && !e; ++i) e = c.s.send(std::string(1024, 'x'));
  EXPECT_TRUE(e) << "a send to a reset peer never failed";
  EXPECT_EQ(c.s.flush(), e);
}

}  // namespace
