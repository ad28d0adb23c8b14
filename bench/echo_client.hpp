// SPDX-License-Identifier: MIT OR Apache-2.0
// The loopback echo workloads, shared by every echo server measured: the embedded
// epoll_loop with one actor per connection (loop_echo_bench.cpp) and plain Asio
// (peers/asio_echo_bench.cpp). Each server only runs on its own thread and tells its port;
// the client below (connections, messages, checks, timing) is the same code for both.
//
// The client runs on the benchmark thread with plain non-blocking sockets and one
// level-triggered epoll set. Connections are made (TCP_NODELAY) and each has one message
// echoed before the timing starts (so every one is accepted and the server thread is
// running); they are kept for every iteration.
//
// Ping-pong (BM_loop_echo/<server>/connections:C): each iteration sends
// ping_pong_messages(C) messages of message_size bytes in total, split evenly over the C
// connections. Each connection keeps exactly one message in flight: it sends one, waits for
// the whole echo, checks every byte of it, then sends the next. Items are messages, so
// items_per_second is echoed messages per second and ns_per_op the time per message.
// server_cpu_ns_per_op is the server thread's CPU time per message (user and kernel; on a
// machine shared with other jobs it varies much less than the wall time).
//
// Streaming (BM_loop_echo_stream/<server>/connections:C): each iteration every connection
// sends stream_bytes() in chunks of up to stream_chunk bytes, as fast as the socket takes
// them, while reading the echo and checking every byte against what was sent. Reports
// bytes_per_second (bytes echoed back, all connections) and server_cpu_ns_per_KiB.
//
// Any mismatch, error, early close or a wait longer than give_up_ms skips the benchmark
// with an error. The connection counts are the benchmarks' Args (1 and 50 for ping-pong, 1
// and 16 for streaming); --smoke makes every round tiny (bench::size).
#pragma once

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "bench_support.hpp"

namespace bench::echo {

inline constexpr std::size_t message_size = 64;
inline constexpr std::size_t stream_chunk = 64 * 1024;

// Messages per ping-pong iteration, in total over all connections. One connection waits a
// whole loopback round trip (two thread wake-ups) per message, so it sends fewer.
inline std::int64_t ping_pong_messages(std::int64_t connections) {
  return bench::size(connections == 1 ? 10'000 : 50'000);
}
// Bytes each connection streams per iteration.
inline std::int64_t stream_bytes() { return bench::size(1 << 20); }

// How long a client may wait for the server before giving up (milliseconds).
inline constexpr int give_up_ms = 30'000;

class client {
 public:
  // Connects `connections` sockets to 127.0.0.1:port. On failure ok() is false.
  client(std::uint16_t port, int connections) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      fail("epoll_create1");
      return;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conns_.resize(static_cast<std::size_t>(connections));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        fail("socket");
        return;
      }
      conns_[i].fd = fd;
      // Connect blocking (the server accepts asynchronously), then switch to non-blocking.
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) {
        fail("connect");
        return;
      }
      const int on = 1;
      if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0) {
        fail("setsockopt(TCP_NODELAY)");
        return;
      }
      if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        fail("fcntl(O_NONBLOCK)");
        return;
      }
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        fail("epoll_ctl(ADD)");
        return;
      }
    }
  }
  ~client() {
    for (conn& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    if (epfd_ >= 0) ::close(epfd_);
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }

  // One ping-pong round: `per_connection` messages on each connection.
  bool ping_pong(std::int64_t per_connection) {
    if (!ok()) return false;
    std::size_t busy = 0;
    for (conn& c : conns_) {
      c.left = per_connection;
      c.got = 0;
      if (c.left > 0 && !send_message(c)) return false;
      if (c.left > 0) ++busy;
    }
    std::vector<epoll_event> events(conns_.size());
    while (busy > 0) {
      const int n = wait(events);
      if (n < 0) return false;
      for (int i = 0; i < n; ++i) {
        conn& c = conns_[events[static_cast<std::size_t>(i)].data.u64];
        const ssize_t r = ::recv(c.fd, c.in + c.got, message_size - c.got, 0);
        if (r < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
          return fail("recv");
        }
        if (r == 0) return fail_text("the server closed a connection");
        c.got += static_cast<std::size_t>(r);
        if (c.got < message_size) continue;
        if (std::memcmp(c.in, c.out, message_size) != 0)
          return fail_text("an echoed message differs from the message sent");
        c.got = 0;
        if (--c.left == 0) {
          --busy;
        } else if (!send_message(c)) {
          return false;
        }
      }
    }
    return true;
  }

  // One streaming round: `bytes` on each connection, sent and echoed.
  bool stream(std::int64_t bytes) {
    if (!ok()) return false;
    const auto total = static_cast<std::size_t>(bytes);
    // Connection i sends pattern_[i * 61, i * 61 + total): different bytes on each.
    const std::size_t need = total + conns_.size() * 61;
    if (pattern_.size() < need) {
      pattern_.resize(need);
      std::uint32_t x = 2463534242u;
      for (char& b : pattern_) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<char>(x >> 24);
      }
    }
    std::vector<char> scratch(stream_chunk);
    std::size_t busy = 0;
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      conn& c = conns_[i];
      c.sent = c.received = 0;
      c.total = total;
      if (total == 0) continue;
      if (!interest(c, i, EPOLLIN | EPOLLOUT)) return false;
      ++busy;
    }
    std::vector<epoll_event> events(conns_.size());
    while (busy > 0) {
      const int n = wait(events);
      if (n < 0) return false;
      for (int k = 0; k < n; ++k) {
        const epoll_event& ev = events[static_cast<std::size_t>(k)];
        const std::size_t i = ev.data.u64;
        conn& c = conns_[i];
        const char* expect = pattern_.data() + i * 61;
        if ((ev.events & EPOLLOUT) != 0 && c.sent < c.total) {
          const std::size_t len = std::min(stream_chunk, c.total - c.sent);
          const ssize_t r = ::send(c.fd, expect + c.sent, len, MSG_NOSIGNAL);
          if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return fail("send");
          } else {
            c.sent += static_cast<std::size_t>(r);
            if (c.sent == c.total && !interest(c, i, EPOLLIN)) return false;
          }
        }
        if ((ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
          const ssize_t r = ::recv(c.fd, scratch.data(), scratch.size(), 0);
          if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            return fail("recv");
          }
          const auto got = static_cast<std::size_t>(r);
          if (r == 0) return fail_text("the server closed a connection");
          if (c.received + got > c.sent)
            return fail_text("the server echoed more bytes than were sent");
          if (std::memcmp(scratch.data(), expect + c.received, got) != 0)
            return fail_text("echoed bytes differ from the bytes sent");
          c.received += got;
          if (c.received == c.total) --busy;
        }
      }
    }
    return true;
  }

 private:
  struct conn {
    int fd = -1;
    // Ping-pong: messages still to send, the one in flight and what came back of it.
    std::int64_t left = 0;
    std::uint64_t seq = 0;
    std::size_t got = 0;
    char out[message_size];
    char in[message_size];
    // Streaming.
    std::size_t total = 0, sent = 0, received = 0;
  };

  // Fills the next message (sequence number, connection, then bytes depending on both)
  // and sends it whole: 64 bytes always fit an idle socket's send buffer.
  bool send_message(conn& c) {
    ++c.seq;
    const std::uint64_t id = static_cast<std::uint64_t>(&c - conns_.data());
    std::memcpy(c.out, &c.seq, sizeof c.seq);
    std::memcpy(c.out + 8, &id, sizeof id);
    for (std::size_t i = 16; i < message_size; ++i)
      c.out[i] = static_cast<char>(c.seq * 31 + id * 7 + i);
    for (;;) {
      const ssize_t r = ::send(c.fd, c.out, message_size, MSG_NOSIGNAL);
      if (r == static_cast<ssize_t>(message_size)) return true;
      if (r < 0 && errno == EINTR) continue;
      return r < 0 ? fail("send") : fail_text("a 64-byte send was split");
    }
  }

  bool interest(conn& c, std::size_t i, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    return ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) == 0 || fail("epoll_ctl(MOD)");
  }

  int wait(std::vector<epoll_event>& events) {
    for (;;) {
      const int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), give_up_ms);
      if (n > 0) return n;
      if (n == 0) {
        fail_text("no answer from the server: timed out");
        return -1;
      }
      if (errno != EINTR) {
        fail("epoll_wait");
        return -1;
      }
    }
  }

  bool fail(const char* what) { return fail_text(std::string(what) + ": " + std::strerror(errno)); }
  bool fail_text(std::string text) {
    if (error_.empty()) error_ = std::move(text);
    return false;
  }

  int epfd_ = -1;
  std::vector<conn> conns_;
  std::vector<char> pattern_;
  std::string error_;
};

// CPU time the server thread has used so far (nanoseconds); -1 if unknown.
inline std::int64_t thread_cpu_ns(pthread_t thread) {
  clockid_t clock;
  timespec ts{};
  if (::pthread_getcpuclockid(thread, &clock) != 0 || ::clock_gettime(clock, &ts) != 0) return -1;
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The ping-pong benchmark body. `port` is where the server under test listens, `server`
// its thread (for the server_cpu_ns_per_op counter: the server thread's CPU time per
// message, less sensitive than wall time to other load on the machine).
inline void ping_pong(benchmark::State& state, std::uint16_t port, pthread_t server) {
  const auto connections = static_cast<int>(state.range(0));
  const std::int64_t per_connection = ping_pong_messages(connections) / connections;
  client c(port, connections);
  c.ping_pong(1);  // untimed: every connection accepted and echoing
  const std::int64_t cpu0 = thread_cpu_ns(server);
  for (auto _ : state) {
    if (!c.ping_pong(per_connection)) break;
  }
  const std::int64_t cpu1 = thread_cpu_ns(server);
  if (!c.ok()) {
    state.SkipWithError(c.error().c_str());
    return;
  }
  const std::int64_t messages = state.iterations() * per_connection * connections;
  bench::per_op(state, per_connection * connections);
  if (cpu0 >= 0 && cpu1 >= 0 && messages > 0)
    state.counters["server_cpu_ns_per_op"] =
        static_cast<double>(cpu1 - cpu0) / static_cast<double>(messages);
}

// The streaming benchmark body (server_cpu_ns_per_KiB: the server thread's CPU time per
// KiB echoed).
inline void stream(benchmark::State& state, std::uint16_t port, pthread_t server) {
  const auto connections = static_cast<int>(state.range(0));
  const std::int64_t bytes = stream_bytes();
  client c(port, connections);
  c.ping_pong(1);  // untimed: every connection accepted and echoing
  const std::int64_t cpu0 = thread_cpu_ns(server);
  for (auto _ : state) {
    if (!c.stream(bytes)) break;
  }
  const std::int64_t cpu1 = thread_cpu_ns(server);
  if (!c.ok()) {
    state.SkipWithError(c.error().c_str());
    return;
  }
  const std::int64_t total = state.iterations() * bytes * connections;
  state.SetBytesProcessed(total);
  if (cpu0 >= 0 && cpu1 >= 0 && total > 0)
    state.counters["server_cpu_ns_per_KiB"] =
        static_cast<double>(cpu1 - cpu0) * 1024.0 / static_cast<double>(total);
}

// Registers both workloads for one server, named BM_loop_echo{,_stream}/<name>. `Server`
// starts on construction and gives `port()` and `thread()`.
template <class Server>
bool register_server(const char* name) {
  benchmark::RegisterBenchmark((std::string("BM_loop_echo/") + name).c_str(),
                               [](benchmark::State& state) {
                                 Server server;
                                 ping_pong(state, server.port(), server.thread());
                               })
      ->ArgName("connections")
      ->Arg(1)
      ->Arg(50)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark((std::string("BM_loop_echo_stream/") + name).c_str(),
                               [](benchmark::State& state) {
                                 Server server;
                                 stream(state, server.port(), server.thread());
                               })
      ->ArgName("connections")
      ->Arg(1)
      ->Arg(16)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  return true;
}

}  // namespace bench::echo
