// SPDX-License-Identifier: MIT OR Apache-2.0
// io_poller: the embedded loop polls an Asio io_context (the epoll_loop is the outer loop).
#pragma once

#include <memory>
#include <optional>

#include "stakker/asio/executor.hpp"
#include "stakker/asio/export.hpp"
#include "stakker/loop/epoll_loop.hpp"

namespace stakker::asio {

// Shares the runtime's thread between `loop` and `ioc`. Each turn of `loop` first runs the
// handlers `ioc` has ready (io_context::poll), and when the turn would sleep, it sleeps in
// `ioc` instead (io_context::run_one_for), with `loop`'s epoll descriptor waited on there
// too: readiness on either side, a wake-up from another thread, or the next runtime timer
// ends the sleep, so neither side waits for the other. Handlers of `ioc` run on the runtime's
// thread, between runs of the runtime; completions bound to the runtime's executor run in
// the runtime's next run, in the same turn.
//
// Owns the runtime's io_binding. Destroy it before `loop`, `ioc` and the runtime. `ioc` must
// not be run by any other thread meanwhile.
class STAKKER_ASIO_EXPORT io_poller final : public loop::epoll_loop::guest {
 public:
  io_poller(loop::epoll_loop& loop, net::io_context& ioc);
  ~io_poller();
  io_poller(const io_poller&) = delete;
  io_poller& operator=(const io_poller&) = delete;

  runtime_executor get_executor() noexcept { return binding_.get_executor(); }
  io_binding& binding() noexcept { return binding_; }
  net::io_context& context() noexcept { return ioc_; }

 private:
  bool poll() override;
  bool wait(int epoll_fd, duration max) override;

  struct watch {
    bool armed = false;     // a wait on the loop's descriptor is pending
    std::size_t fired = 0;  // how many of the handlers run were that wait's
  };
  loop::epoll_loop& loop_;
  net::io_context& ioc_;
  io_binding binding_;
  std::shared_ptr<watch> watch_;  // shared with the pending wait's handler
  std::optional<net::posix::stream_descriptor> descriptor_;  // a dup of the loop's descriptor
};

}  // namespace stakker::asio
