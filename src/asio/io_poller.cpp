// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/asio/io_poller.hpp"

#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace stakker::asio {

io_poller::io_poller(loop::epoll_loop& loop, net::io_context& ioc)
    : loop_(loop), ioc_(ioc), binding_(loop.rt(), ioc), watch_(std::make_shared<watch>()) {
  loop_.set_guest(this);
}

io_poller::~io_poller() {
  loop_.set_guest(nullptr);
  // Closing the descriptor cancels a pending wait; its handler only touches `watch_`.
}

bool io_poller::poll() {
  if (ioc_.stopped()) ioc_.restart();
  // A handler may destroy the poller (not `ioc`): `w` outlives it.
  const std::shared_ptr<watch> w = watch_;
  const std::size_t before = w->fired;
  const std::size_t ran = ioc_.poll();
  return ran > w->fired - before;
}

bool io_poller::wait(int epoll_fd, duration max) {
  if (!descriptor_) {
    // Asio closes the descriptor it is given, so it gets its own.
    const int fd = ::dup(epoll_fd);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup");
    descriptor_.emplace(ioc_, fd);
  }
  if (!watch_->armed) {
    watch_->armed = true;
    descriptor_->async_wait(net::posix::stream_descriptor::wait_read,
                            [w = watch_](const error_code&) {
                              w->armed = false;
                              ++w->fired;
                            });
  }
  if (ioc_.stopped()) ioc_.restart();
  const std::shared_ptr<watch> w = watch_;  // as in poll()
  const std::size_t before = w->fired;
  net::io_context& ioc = ioc_;
  std::size_t ran = ioc.run_one_for(max);
  ran += ioc.poll();
  return ran > w->fired - before;
}

}  // namespace stakker::asio
