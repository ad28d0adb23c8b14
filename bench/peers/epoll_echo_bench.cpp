// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: the floor. The loopback echo server written by hand on the system calls, with no
// library and no queue: one thread, one epoll set, every socket edge-triggered. On
// readiness a connection receives up to 16 KiB at a time (the size of each recv the
// stakker tcp_stream makes and of the Asio peer's buffer) and sends each piece straight
// back from the same buffer; a recv that returns less than it asked for has emptied the
// socket (the trick the stakker tcp_stream uses too), so no recv is made only to see
// EAGAIN. What the socket does not take waits, and reading stops until EPOLLOUT has let it
// go. Nothing else is done per message, so the system calls and the kernel's work are what
// its time is: any server's floor on this machine. Same client and workloads as
// loop_echo_bench.cpp (echo_client.hpp).
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "../echo_client.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class epoll_echo_server {
 public:
  epoll_echo_server() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    stopfd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    listenfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (epfd_ < 0 || stopfd_ < 0 || listenfd_ < 0) fail("epoll_echo_server: set-up");
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof at;
    if (::bind(listenfd_, reinterpret_cast<const sockaddr*>(&at), sizeof at) < 0 ||
        ::listen(listenfd_, 128) < 0 ||
        ::getsockname(listenfd_, reinterpret_cast<sockaddr*>(&at), &len) < 0)
      fail("epoll_echo_server: listen");
    port_ = ntohs(at.sin_port);
    add(listenfd_, EPOLLIN);
    add(stopfd_, EPOLLIN);
    thread_ = std::thread([this] { run(); });
  }
  ~epoll_echo_server() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(stopfd_, &one, sizeof one);
    thread_.join();
    for (auto& [fd, c] : conns_) ::close(fd);
    ::close(listenfd_);
    ::close(stopfd_);
    ::close(epfd_);
  }
  epoll_echo_server(const epoll_echo_server&) = delete;
  epoll_echo_server& operator=(const epoll_echo_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  pthread_t thread() { return thread_.native_handle(); }

 private:
  static constexpr std::size_t chunk = 16 * 1024;
  struct conn {
    char buf[chunk];
    std::size_t pending_from = 0, pending_to = 0;  // received, not yet sent back
  };

  void add(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl");
  }

  void run() {
    epoll_event events[64];
    for (;;) {
      const int n = ::epoll_wait(epfd_, events, 64, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == stopfd_) return;
        if (fd == listenfd_) {
          accept_all();
          continue;
        }
        auto it = conns_.find(fd);
        if (it != conns_.end() && !serve(fd, *it->second)) {
          ::close(fd);
          conns_.erase(it);
        }
      }
    }
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listenfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      conns_.emplace(fd, std::make_unique<conn>());
      add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    }
  }

  // Sends what is pending; true when all of it went.
  static bool send_pending(int fd, conn& c, bool& dead) {
    while (c.pending_from < c.pending_to) {
      const ssize_t s =
          ::send(fd, c.buf + c.pending_from, c.pending_to - c.pending_from, MSG_NOSIGNAL);
      if (s < 0) {
        if (errno == EINTR) continue;
        dead = errno != EAGAIN && errno != EWOULDBLOCK;
        return false;
      }
      c.pending_from += static_cast<std::size_t>(s);
    }
    c.pending_from = c.pending_to = 0;
    return true;
  }

  // One readiness edge: false when the connection is done.
  static bool serve(int fd, conn& c) {
    bool dead = false;
    if (!send_pending(fd, c, dead)) return !dead;  // still blocked: the next EPOLLOUT goes on
    for (;;) {
      const ssize_t r = ::recv(fd, c.buf, chunk, 0);
      if (r == 0) return false;
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
      }
      c.pending_to = static_cast<std::size_t>(r);
      if (!send_pending(fd, c, dead)) return !dead;
      if (static_cast<std::size_t>(r) < chunk) return true;  // the socket is empty
    }
  }

  int epfd_ = -1, stopfd_ = -1, listenfd_ = -1;
  std::uint16_t port_ = 0;
  std::unordered_map<int, std::unique_ptr<conn>> conns_;  // the server thread's
  std::thread thread_;
};

const bool registered = bench::echo::register_server<epoll_echo_server>("epoll");

}  // namespace
