// SPDX-License-Identifier: MIT OR Apache-2.0
#include <stdexcept>

#include "stakker/asio/executor.hpp"

namespace stakker::asio {

io_binding::io_binding(core& c, net::io_context& ioc)
    : core_(&c), ioc_(&ioc), thread_(std::this_thread::get_id()) {
  if (c.anymap_try_get<io_binding*>() != nullptr)
    throw std::logic_error("stakker::asio::io_binding: this runtime already has a binding");
  if (!c.uses_wakers())
    throw std::logic_error(
        "stakker::asio::io_binding: the runtime has no poll waker; make its loop "
        "(epoll_loop, io_loop) first");
  inbox_ = stakker::detail::inbox::make(c);
  c.anymap_set<io_binding*>(this);
}

io_binding::~io_binding() {
  core_->anymap_unset<io_binding*>();
  inbox_->close();  // what is queued is destroyed here, on the runtime's thread, unrun
}

io_binding& io_binding::of(core& c) {
  if (io_binding** b = c.anymap_try_get<io_binding*>()) return **b;
  throw std::logic_error(
      "stakker::asio: this runtime has no io_binding (make an io_loop, io_poller or "
      "io_binding for it)");
}

io_binding& io_binding::current() {
  core* c = stakker::detail::running_core;
  if (c == nullptr)
    throw std::logic_error(
        "stakker::asio: a token without a runtime was made outside a run (pass the core)");
  return of(*c);
}

}  // namespace stakker::asio
