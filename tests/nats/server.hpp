// SPDX-License-Identifier: MIT OR Apache-2.0
// A real nats-server for a test: started on a free loopback port, stopped (SIGTERM, then
// SIGKILL) when destroyed; restartable on the same port.
#pragma once

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "demo_process.hpp"

#include "stakker/loop/epoll_loop.hpp"
#include "stakker/runtime.hpp"

namespace nats_test {

using demo::accepts;
using demo::free_port;

class server {
 public:
  // Extra arguments for nats-server (e.g. {"--auth", "secret"}, {"-js", "-sd", dir}).
  explicit server(std::vector<std::string> args = {}) : args_(std::move(args)), port_(free_port()) {
    start();
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  int port() const noexcept { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

  // Starts it (again) on its port; its log goes to /dev/null unless STAKKER_NATS_SERVER_LOG
  // is set. Throws if it does not listen within 10 s.
  void start() {
    if (proc_) return;
    std::vector<std::string> argv{STAKKER_NATS_SERVER, "-a", "127.0.0.1", "-p",
                                  std::to_string(port_)};
    argv.insert(argv.end(), args_.begin(), args_.end());
    proc_ = std::make_unique<demo::child_process>(
        argv, std::getenv("STAKKER_NATS_SERVER_LOG") == nullptr);
    if (!proc_->wait_listening(port_)) {
      proc_.reset();
      throw std::runtime_error("nats-server did not start listening");
    }
  }
  // Stops it: SIGTERM, SIGKILL after 5 s.
  void stop() { proc_.reset(); }
  // Kills it at once (SIGKILL), as a crash would.
  void kill() {
    if (proc_) proc_->stop(SIGKILL);
    proc_.reset();
  }

 private:
  std::vector<std::string> args_;
  int port_;
  std::unique_ptr<demo::child_process> proc_;
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
