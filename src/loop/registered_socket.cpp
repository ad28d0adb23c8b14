// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/detail/registered_socket.hpp"

#include <stdexcept>

namespace stakker::loop::detail {

registered_socket::registered_socket(epoll_loop& loop, unique_fd socket, std::uint32_t events,
                                     int priority, fwd<std::uint32_t> ready) {
  if (!socket) throw std::invalid_argument("stakker::loop: registering an empty socket");
  source_ = loop.add(socket.get(), events, priority, std::move(ready));
  fd_ = std::move(socket);
}

}  // namespace stakker::loop::detail
