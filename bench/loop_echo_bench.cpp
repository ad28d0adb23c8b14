// SPDX-License-Identifier: MIT OR Apache-2.0
// Loopback echo through the embedded loop: a TCP echo server written as users
// will write it, on its own thread: a runtime driven by an epoll_loop, a listener actor
// owning a tcp_listener, and one actor per connection owning a tcp_stream whose readiness
// reaches the actor through fwd_to; on each readiness it reads and sends all its input back
// (tcp_stream::send: no copy of what the socket takes at once), consumes it, or flushes what
// waited for writability. Each read takes at most 16 KiB, the Asio peer's buffer (the
// default, 256 KiB, made the one-connection stream 1.5x dearer in server CPU: bigger
// batches defeat the loopback's pipelining). The client and the workloads are in
// echo_client.hpp; the same server written with plain Asio is in peers/asio_echo_bench.cpp,
// and by hand on the system calls (the floor) in peers/epoll_echo_bench.cpp.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <future>
#include <string_view>
#include <thread>
#include <utility>

#include "echo_client.hpp"
#include "stakker/actor_own_slab.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/tcp_listener.hpp"
#include "stakker/loop/tcp_stream.hpp"
#include "stakker/stakker.hpp"
#include "stakker/sync/waker.hpp"

namespace {

using namespace stakker;

// One connection: echoes everything it reads; stops at end of input (once its output is
// flushed) or on a socket error.
struct echo_conn {
  loop::tcp_stream stream;

  static loop::stream_options options() {
    loop::stream_options o;
    o.max_read_per_call = 16 * 1024;
    return o;
  }
  static echo_conn init(cx<echo_conn>& x, loop::unique_fd socket) {
    loop::epoll_loop& lp = *x.core().anymap_get<loop::epoll_loop*>();
    echo_conn c{loop::tcp_stream(lp, std::move(socket),
                                 fwd_to<std::uint32_t, &echo_conn::ready>(x.this_actor()),
                                 options())};
    c.stream.set_nodelay(true);
    return c;
  }

  void ready(cx<echo_conn>& x, std::uint32_t events) {
    const loop::read_result r = stream.read(events);
    const std::string_view in = stream.input();
    std::error_code e;
    if (in.empty()) {
      e = stream.flush();  // writable again: what waited goes
    } else {
      e = stream.send(in);  // no copy of what the socket takes at once
      stream.consume(in.size());
    }
    if (e || r.error || (r.eof && stream.pending_output() == 0)) x.stop();
  }
};

// Accepts connections, each into a child actor.
struct echo_server {
  loop::tcp_listener listener;
  actor_own_slab<echo_conn> conns;

  static echo_server init(cx<echo_server>& x, std::promise<std::uint16_t>* bound) {
    loop::tcp_listener l;
    try {
      l = loop::tcp_listener::bind(*x.core().anymap_get<loop::epoll_loop*>(),
                                   loop::socket_address::loopback_v4(0),
                                   fwd_to<std::uint32_t, &echo_server::ready>(x.this_actor()));
      bound->set_value(l.local_address().port());
    } catch (...) {
      bound->set_exception(std::current_exception());
      throw;
    }
    return echo_server{std::move(l), {}};
  }

  void ready(cx<echo_server>& x, std::uint32_t) {
    for (;;) {
      loop::accepted a = listener.accept();
      if (!a.socket) return;
      conns.make<&echo_conn::init>(x.core(), ret_nop<stop_cause>(), std::move(a.socket));
    }
  }
};

// The server thread: runtime, loop and listener actor; stopped through a waker.
class stakker_echo_server {
 public:
  stakker_echo_server() {
    std::promise<std::uint16_t> bound;
    auto port = bound.get_future();
    thread_ = std::thread([this, &bound] {
      runtime rt;
      loop::epoll_loop lp(rt);
      stop_ = rt.waker([](core& c, bool deleted) {
        if (!deleted) c.shutdown(stop_cause::stopped());
      });
      auto server = make_actor<&echo_server::init>(rt, ret_nop<stop_cause>(), &bound);
      lp.run();
      // Drop the actors while the loop they are registered with still exists.
      server.reset();
      rt.run(clock::now(), false);
    });
    try {
      port_ = port.get();
    } catch (...) {
      stop_.wake();
      thread_.join();
      throw;
    }
  }
  ~stakker_echo_server() {
    stop_.wake();
    thread_.join();
  }
  stakker_echo_server(const stakker_echo_server&) = delete;
  stakker_echo_server& operator=(const stakker_echo_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  pthread_t thread() { return thread_.native_handle(); }

 private:
  std::thread thread_;
  waker stop_;  // set on the server thread before the port is handed over
  std::uint16_t port_ = 0;
};

const bool registered = bench::echo::register_server<stakker_echo_server>("stakker");

}  // namespace
