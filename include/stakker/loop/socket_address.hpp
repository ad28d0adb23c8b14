// SPDX-License-Identifier: MIT OR Apache-2.0
// socket_address: an IPv4 or IPv6 address and port, as the kernel takes it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "stakker/loop/export.hpp"

namespace stakker::loop {

// A value type holding a sockaddr_in or sockaddr_in6. Empty (family AF_UNSPEC) when
// default-constructed.
class STAKKER_LOOP_EXPORT socket_address {
 public:
  socket_address() noexcept = default;

  // A numeric IPv4 ("127.0.0.1") or IPv6 ("::1") address; no name lookup. Throws
  // std::invalid_argument naming the text if it is neither.
  static socket_address parse(std::string_view host, std::uint16_t port);
  static socket_address loopback_v4(std::uint16_t port) noexcept;
  static socket_address loopback_v6(std::uint16_t port) noexcept;
  static socket_address any_v4(std::uint16_t port) noexcept;
  // Copies what the kernel filled in (accept, recvfrom, getsockname). Throws
  // std::invalid_argument for a family other than AF_INET/AF_INET6.
  static socket_address from_native(const sockaddr* a, socklen_t size);

  int family() const noexcept { return storage_.ss_family; }
  bool empty() const noexcept { return family() == AF_UNSPEC; }
  std::uint16_t port() const noexcept;
  // "127.0.0.1:8080" or "[::1]:8080"; "(none)" when empty.
  std::string to_string() const;

  const sockaddr* native() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t native_size() const noexcept { return size_; }

  friend STAKKER_LOOP_EXPORT bool operator==(const socket_address& a,
                                             const socket_address& b) noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

}  // namespace stakker::loop
