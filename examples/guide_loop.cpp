// SPDX-License-Identifier: MIT OR Apache-2.0
// docs/guide-loop.md's code: the embedded epoll_loop, fd sources, TCP and UDP on loopback,
// and the cross-thread pieces (waker, channel, piped_thread) with real threads. Each region
// between `// [guide:NAME]` and `// [/guide:NAME]` is quoted in the guide word for word
// (tools/check_guide_snippets.py checks it). Each part has a runtime and loop of its own and
// ends when its work is done; a 2 s guard timer fails a part that hangs.
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/tcp_listener.hpp"
#include "stakker/loop/tcp_stream.hpp"
#include "stakker/loop/udp_queue.hpp"
#include "stakker/stakker.hpp"

using namespace stakker;
using namespace std::chrono_literals;

namespace {

// Ends a part that has not finished within 2 s (it prints the cause instead of its lines).
void guard(runtime& rt) {
  rt.after(2s, [](core& c) { c.shutdown(stop_cause::failed("timed out")); });
}

void basics() {
  // [guide:loop]
  runtime rt;
  loop::epoll_loop lp(rt);         // drives rt in real time; one loop per runtime
  const instant start = rt.now();  // timers count from the runtime's time
  rt.after(20ms, [start](core& c) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(c.now() - start);
    std::printf("loop: timer after >= 20 ms: %d\n", ms >= 20ms);
    c.shutdown(stop_cause::stopped());
  });
  const stop_cause cause = lp.run();  // sleeps in epoll until the timer is due
  std::printf("loop: run returned: %s\n", cause.text().c_str());
  // [/guide:loop]
}

void fd_sources() {
  // [guide:fd]
  runtime rt;
  loop::epoll_loop lp(rt);
  guard(rt);
  int a[2], b[2];
  if (::pipe2(a, O_NONBLOCK | O_CLOEXEC) != 0 || ::pipe2(b, O_NONBLOCK | O_CLOEXEC) != 0) return;
  loop::unique_fd a_in(a[0]), a_out(a[1]), b_in(b[0]), b_out(b[1]);
  int done = 0;
  // Reads everything waiting: the source is edge-triggered, so a partial read gets no
  // second call for what is left.
  auto drain = [&](const char* name, int fd) {
    return fwd_do<std::uint32_t>([&done, &rt, name, fd](std::uint32_t) {
      char buf[64];
      while (::read(fd, buf, sizeof buf) > 0) {
      }
      std::printf("fd: %s readable\n", name);
      if (++done == 2) rt.shutdown(stop_cause::stopped());
    });
  };
  loop::fd_source low = lp.add(a_in.get(), EPOLLIN, 1, drain("low (priority 1)", a_in.get()));
  loop::fd_source high = lp.add(b_in.get(), EPOLLIN, 9, drain("high (priority 9)", b_in.get()));
  if (::write(a_out.get(), "x", 1) != 1 || ::write(b_out.get(), "x", 1) != 1) return;
  lp.run();  // both are ready in the same turn: the higher priority level goes first
  // [/guide:fd]
}

// [guide:tcp_server]
// One accepted connection: echoes what it reads; once the client has closed its side,
// sends the rest, closes its own side, and stops.
class echo_connection {
 public:
  static echo_connection init(cx<echo_connection>& cx, loop::accepted a,
                              loop::stream_options options) {
    loop::epoll_loop& lp = *cx.core().anymap_get<loop::epoll_loop*>();
    echo_connection e;
    e.stream_ = loop::tcp_stream(lp, std::move(a),
                                 fwd_to<std::uint32_t, &echo_connection::ready>(cx), options);
    return e;
  }

  void ready(cx<echo_connection>& cx, std::uint32_t events) {
    const loop::read_result r = stream_.read(events);  // until would-block or a limit
    if (r.error) return cx.fail(r.error.message());
    stream_.write(stream_.input());  // buffers only
    stream_.consume(stream_.input().size());
    if (r.eof && !closing_) closing_ = true;
    const std::error_code e = closing_ ? stream_.close_write() : stream_.flush();
    if (e) return cx.fail(e.message());
    if (closing_ && stream_.pending_output() == 0) cx.stop();
  }

 private:
  loop::tcp_stream stream_;
  bool closing_ = false;
};

// Accepts connections, one echo_connection actor each, under limits.
class echo_server {
 public:
  static echo_server init(cx<echo_server>& cx, ret<std::uint16_t> listening) {
    loop::epoll_loop& lp = *cx.core().anymap_get<loop::epoll_loop*>();
    echo_server s;
    loop::listener_options lo;
    lo.max_connections = 100;
    // Port 0: the kernel picks a free one.
    s.listener_ = loop::tcp_listener::bind(lp, loop::socket_address::loopback_v4(0),
                                           fwd_to<std::uint32_t, &echo_server::ready>(cx), lo);
    s.options_.max_input = 64 * 1024;     // per connection
    s.options_.max_output = 1024 * 1024;  // per connection: past it, it fails
    s.options_.input_budget = std::make_shared<loop::byte_budget>(8 * 1024 * 1024);  // all
    s.options_.idle_timeout = 30s;
    listening(s.listener_.local_address().port());
    return s;
  }

  void ready(cx<echo_server>& cx, std::uint32_t) {
    for (;;) {
      loop::accepted a = listener_.accept();
      if (a.error) return;    // out of descriptors, say: the listener retries by itself
      if (!a.socket) return;  // none waiting (or max_connections reached)
      const std::uint64_t id = next_id_++;
      connections_.emplace(
          id, make_actor<&echo_connection::init>(
                  cx, ret_to<stop_cause>(cx, &echo_server::closed, id), std::move(a), options_));
    }
  }
  void closed(cx<echo_server>&, std::uint64_t id, std::optional<stop_cause> cause) {
    std::printf("tcp: server: connection %llu: %s\n", static_cast<unsigned long long>(id),
                cause ? cause->text().c_str() : "(none)");
    connections_.erase(id);
  }

 private:
  loop::tcp_listener listener_;
  loop::stream_options options_;
  std::map<std::uint64_t, actor_own<echo_connection>> connections_;
  std::uint64_t next_id_ = 1;
};
// [/guide:tcp_server]

// [guide:tcp_client]
// Connects, sends one line, half-closes, and reads the echo to the end of the stream.
class echo_client {
 public:
  static echo_client init(cx<echo_client>& cx, std::uint16_t port) {
    loop::epoll_loop& lp = *cx.core().anymap_get<loop::epoll_loop*>();
    echo_client c;
    c.stream_ = loop::tcp_stream::connect(lp, loop::socket_address::loopback_v4(port),
                                          fwd_to<std::uint32_t, &echo_client::ready>(cx));
    c.stream_.write("hello, loop\n");
    c.stream_.close_write();  // sent once connected, then end-of-stream
    return c;
  }

  void ready(cx<echo_client>& cx, std::uint32_t events) {
    if (const std::error_code e = stream_.flush()) return cx.fail(e.message());
    const loop::read_result r = stream_.read(events);
    if (r.error) return cx.fail(r.error.message());
    if (!r.eof) return;  // more to come: the next readiness brings it
    std::printf("tcp: client got: %s", std::string(stream_.input()).c_str());
    cx.stop();
  }

 private:
  loop::tcp_stream stream_;
};

void tcp() {
  runtime rt;
  loop::epoll_loop lp(rt);
  guard(rt);
  actor_own<echo_client> client;
  auto server = make_actor<&echo_server::init>(
      rt, ret_shutdown(rt), ret_do<std::uint16_t>([&](std::optional<std::uint16_t> port) {
        if (port) client = make_actor<&echo_client::init>(rt, ret_shutdown(rt), *port);
      }));
  std::printf("tcp: shutdown: %s\n", lp.run().text().c_str());  // when the client stops
}
// [/guide:tcp_client]

void udp() {
  // [guide:udp]
  runtime rt;
  loop::epoll_loop lp(rt);
  guard(rt);
  loop::udp_queue server, client;
  std::vector<loop::datagram> got;
  server = loop::udp_queue::bind(lp, loop::socket_address::loopback_v4(0),
                                 fwd_do<std::uint32_t>([&](std::uint32_t) {
                                   server.receive(got);  // every datagram waiting
                                   for (const loop::datagram& d : got) {
                                     std::printf("udp: server got %s\n", d.data.c_str());
                                     server.push(d.peer, "pong");
                                   }
                                   got.clear();
                                   server.flush();
                                 }));
  client = loop::udp_queue::bind(lp, loop::socket_address::loopback_v4(0),
                                 fwd_do<std::uint32_t>([&](std::uint32_t) {
                                   client.receive(got);
                                   for (const loop::datagram& d : got)
                                     std::printf("udp: client got %s\n", d.data.c_str());
                                   if (!got.empty()) rt.shutdown(stop_cause::stopped());
                                   got.clear();
                                 }));
  client.push(server.local_address(), "ping");
  client.flush();
  lp.run();
  // [/guide:udp]
}

void wakers() {
  // [guide:waker]
  runtime rt;
  loop::epoll_loop lp(rt);  // installs the poll waker: make it before any waker
  guard(rt);
  const std::thread::id runtime_thread = std::this_thread::get_id();
  waker w;
  w = rt.waker([&](core& c, bool deleted) {
    const bool here = std::this_thread::get_id() == runtime_thread;
    if (deleted) {
      std::printf("waker: deleted, on the runtime thread %d\n", here);
      c.shutdown(stop_cause::stopped());
    } else if (w) {  // wake-ups may merge, and spurious calls are allowed
      std::printf("waker: woken, on the runtime thread %d\n", here);
      w.reset();  // its handler may destroy it: one "deleted" call follows
    }
  });
  std::thread other([r = w.ref()] { r.wake(); });  // waker_ref: safe against the reset
  lp.run();
  other.join();
  // [/guide:waker]
}

// [guide:channel]
class summer {
 public:
  static summer init(cx<summer>&, int expected) { return summer(expected); }
  void add(cx<summer>& cx, int v) {
    total_ += v;
    if (++count_ < expected_) return;
    std::printf("channel: %d values, total %ld\n", count_, total_);
    cx.stop();
  }

 private:
  explicit summer(int expected) : expected_(expected) {}
  int expected_, count_ = 0;
  long total_ = 0;
};

void channels() {
  runtime rt;
  loop::epoll_loop lp(rt);
  guard(rt);
  auto sum = make_actor<&summer::init>(rt, ret_shutdown(rt), 300);
  // Values reach summer::add on the runtime thread; the guard's end closes the channel.
  auto [tx, rx_guard] = make_channel<int>(rt, fwd_to<int, &summer::add>(sum));
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p)
    producers.emplace_back([tx = tx] {  // a copy per thread; send is thread-safe
      for (int i = 1; i <= 100; ++i) tx.send(i);
    });
  std::printf("channel: %s\n", lp.run().text().c_str());
  for (std::thread& t : producers) t.join();
}
// [/guide:channel]

void piped() {
  // [guide:piped_thread]
  runtime rt;
  loop::epoll_loop lp(rt);
  guard(rt);
  // int goes to the worker, long comes back; blocking is fine on the worker's side.
  piped_thread<int, long> worker(
      rt, fwd_do<long>([](long sq) { std::printf("piped_thread: got %ld\n", sq); }),
      fwd_do<std::optional<std::string>>([&](std::optional<std::string> error) {
        std::printf("piped_thread: ended %s\n", error ? error->c_str() : "normally");
        rt.shutdown(stop_cause::stopped());
      }),
      [](piped_link<int, long>& link) {
        while (std::optional<int> n = link.recv()) {  // empty once the handle is gone
          if (*n < 0) return;
          link.send(static_cast<long>(*n) * *n);
        }
      });
  worker.send(3);
  worker.send(4);
  worker.send(-1);
  lp.run();  // values in order, then the end, once the thread was joined
  // [/guide:piped_thread]
}

}  // namespace

int main() {
  basics();
  fd_sources();
  tcp();
  udp();
  wakers();
  channels();
  piped();
}
