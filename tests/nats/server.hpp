// SPDX-License-Identifier: MIT OR Apache-2.0
// A real nats-server for a test: started on a free loopback port, stopped (SIGTERM, then
// SIGKILL) when destroyed; restartable on the same port.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "stakker/loop/epoll_loop.hpp"
#include "stakker/runtime.hpp"

namespace nats_test {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("free_port: bind failed");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class server {
 public:
  // Extra arguments for nats-server (e.g. {"--auth", "secret"}, {"-js", "-sd", dir}).
  explicit server(std::vector<std::string> args = {}) : args_(std::move(args)), port_(free_port()) {
    start();
  }
  ~server() { stop(); }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  int port() const noexcept { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

  void start() {
    if (pid_ > 0) return;
    std::vector<std::string> argv{STAKKER_NATS_SERVER, "-a", "127.0.0.1", "-p",
                                  std::to_string(port_)};
    argv.insert(argv.end(), args_.begin(), args_.end());
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      // Its log goes to /dev/null unless STAKKER_NATS_SERVER_LOG is set.
      if (std::getenv("STAKKER_NATS_SERVER_LOG") == nullptr) {
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      ::execv(a[0], a.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!accepts(port_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("nats-server exited at start");
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("nats-server did not start listening");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Stops it: SIGTERM (lame duck off: it closes client connections), SIGKILL after 5 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  // Kills it at once (SIGKILL), as a crash would.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  std::vector<std::string> args_;
  int port_;
  pid_t pid_ = -1;
};

// Turns the loop until `done()` or the deadline; whether `done()` held.
template <class F>
bool run_until(stakker::loop::epoll_loop& loop, F done,
               std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    loop.turn(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace nats_test
