// SPDX-License-Identifier: MIT OR Apache-2.0
// The soak's hostile clients, started and stopped continuously on one thread: never-reading
// floods, slowloris trickles, oversized lines, random binary, connect-and-reset, half-close
// then silence, and connection churn. They check nothing; they only load the server.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "chat/protocol.hpp"
#include "soak_sockets.hpp"

namespace soak {

enum class hostile_kind { flood, slowloris, oversized, binary, reset, half_close, churn };
inline constexpr std::array<const char*, 7> hostile_names = {
    "flood", "slowloris", "oversized", "binary", "reset", "half-close", "churn"};

struct hostile_report {
  std::array<std::uint64_t, 7> started{};
  // Seen ended by the server (end-of-stream or reset). A client that never reads may not
  // see it: the server's end-of-stream waits behind the data it does not read.
  std::array<std::uint64_t, 7> cut_off{};
};

struct hostile_options {
  std::uint16_t port = 0;
  std::size_t max_alive = 48;  // hostile connections at once
  std::size_t max_floods = 2;  // of which floods (each sends ~128 KB/s into the room)
  std::uint64_t seed = 0;
  std::chrono::steady_clock::time_point until;
};

class hostile_clients {
 public:
  explicit hostile_clients(const hostile_options& o) : o_(o), rng_(o.seed) {}

  hostile_report run() {
    using std::chrono::steady_clock;
    while (steady_clock::now() < o_.until) {
      while (alive_.size() < o_.max_alive && chance(0.3)) start();
      const auto now = steady_clock::now();
      for (std::size_t i = 0; i < alive_.size();) {
        if (step(alive_[i], now)) {
          ++i;
        } else {
          if (alive_[i].fd >= 0) ::close(alive_[i].fd);
          alive_[i] = alive_.back();
          alive_.pop_back();
        }
      }
      ::poll(nullptr, 0, 10);
    }
    for (conn& c : alive_) ::close(c.fd);
    return report_;
  }

 private:
  struct conn {
    int fd;
    hostile_kind kind;
    std::chrono::steady_clock::time_point end, next;
    std::string out, in;
    std::size_t trickled = 0;
  };

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::size_t pick(std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng_);
  }
  std::chrono::milliseconds ms(std::size_t lo, std::size_t hi) {
    return std::chrono::milliseconds(pick(lo, hi));
  }
  std::string random_bytes(std::size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(pick(0, 255));
    return s;
  }

  void start() {
    auto kind = static_cast<hostile_kind>(pick(0, hostile_names.size() - 1));
    std::size_t floods = 0;
    for (const conn& c : alive_) floods += c.kind == hostile_kind::flood;
    if (kind == hostile_kind::flood && floods >= o_.max_floods) kind = hostile_kind::churn;
    const bool never_reads = kind == hostile_kind::flood || kind == hostile_kind::half_close;
    const int fd = connect_nonblocking(o_.port, never_reads ? 4096 : 0);
    if (fd < 0) return;
    const auto now = std::chrono::steady_clock::now();
    conn c{fd, kind, now + ms(1000, 5000), now, {}, {}, 0};
    switch (kind) {
      case hostile_kind::flood:
        c.end = now + ms(3000, 30000);
        break;
      case hostile_kind::slowloris:
        c.end = now + ms(3000, 6000);  // past the soak's 2 s line timeout
        break;
      case hostile_kind::oversized:
        c.out = "SAY " + std::string(pick(chat::max_line, 4 * chat::max_line), 'o') + '\n';
        break;
      case hostile_kind::binary:
        c.out = random_bytes(pick(1, 8192));
        break;
      case hostile_kind::reset:
        c.out = random_bytes(pick(0, 64));
        c.end = now + ms(0, 50);
        break;
      case hostile_kind::half_close:  // a never-reader first, so the server may owe output
        c.next = now + ms(500, 10000);
        c.end = c.next + ms(1000, 15000);
        break;
      case hostile_kind::churn:
        c.out = "SAY churn\n";
        break;
    }
    ++report_.started[static_cast<std::size_t>(kind)];
    alive_.push_back(std::move(c));
  }

  // Advances one connection; false when it is over (the caller closes it).
  bool step(conn& c, std::chrono::steady_clock::time_point now) {
    const auto k = static_cast<std::size_t>(c.kind);
    if (now >= c.end) {
      if (c.kind == hostile_kind::reset) {
        send_some(c.fd, c.out);
        close_with_reset(c.fd);
        c.fd = -1;
      }
      return false;
    }
    bool closed = false;
    switch (c.kind) {
      case hostile_kind::flood:  // never reads; ~128 KB/s of valid lines
        if (now >= c.next) {
          c.next = now + std::chrono::milliseconds(10);
          for (int i = 0; i < 12; ++i) c.out += "SAY flood " + std::string(96, 'f') + '\n';
        }
        closed = send_some(c.fd, c.out) == io::closed;
        if (c.out.size() > (1u << 20)) c.out.clear();  // the server reads no more: drop
        break;
      case hostile_kind::slowloris:  // one byte every 200 ms, never a newline
        if (now >= c.next) {
          c.next = now + std::chrono::milliseconds(200);
          const std::string s = "SAY abc";
          c.out += c.trickled < s.size() ? s[c.trickled] : 'x';
          ++c.trickled;
        }
        closed = send_some(c.fd, c.out) == io::closed || recv_all(c.fd, c.in) == io::closed;
        break;
      case hostile_kind::half_close:  // never reads, never sends
        if (now >= c.next && c.trickled++ == 0) ::shutdown(c.fd, SHUT_WR);
        closed = poll_hangup(c.fd);
        break;
      case hostile_kind::oversized:
      case hostile_kind::binary:
      case hostile_kind::reset:
      case hostile_kind::churn:
        closed = send_some(c.fd, c.out) == io::closed || recv_all(c.fd, c.in) == io::closed;
        if (c.kind == hostile_kind::churn && c.out.empty() && c.in.find('\n') != std::string::npos)
          ::shutdown(c.fd, SHUT_WR);  // said its line and read: leave
        if (c.in.size() > (64u << 10)) c.in.clear();
        break;
    }
    if (closed) ++report_.cut_off[k];
    return !closed;
  }

  // Whether the server has closed, seen without reading.
  static bool poll_hangup(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  hostile_options o_;
  std::mt19937_64 rng_;
  std::vector<conn> alive_;
  hostile_report report_;
};

}  // namespace soak
