// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/socket_address.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "stakker/loop/unique_fd.hpp"
#include "sys.hpp"

namespace stakker::loop {

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

socket_address make_v4(in_addr addr, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr = addr;
  return socket_address::from_native(reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

socket_address make_v6(const in6_addr& addr, std::uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = addr;
  return socket_address::from_native(reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

}  // namespace

socket_address socket_address::parse(std::string_view host, std::uint16_t port) {
  const std::string text(host);  // inet_pton needs a terminated string
  // An embedded NUL would end the text early for inet_pton ("1.2.3.4\0junk" is no address).
  if (text.find('\0') == std::string::npos) {
    in_addr v4{};
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return make_v4(v4, port);
    in6_addr v6{};
    if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) return make_v6(v6, port);
  }
  throw std::invalid_argument(
      "stakker::loop::socket_address::parse: not a numeric IPv4 or IPv6 "
      "address: \"" +
      text + "\"");
}

socket_address socket_address::loopback_v4(std::uint16_t port) noexcept {
  return make_v4(in_addr{htonl(INADDR_LOOPBACK)}, port);
}

socket_address socket_address::loopback_v6(std::uint16_t port) noexcept {
  return make_v6(in6addr_loopback, port);
}

socket_address socket_address::any_v4(std::uint16_t port) noexcept {
  return make_v4(in_addr{htonl(INADDR_ANY)}, port);
}

socket_address socket_address::from_native(const sockaddr* a, socklen_t size) {
  socket_address r;
  // The size first: with fewer bytes than a family, there is no family to read.
  const bool ok =
      size >= sizeof(sa_family_t) && ((a->sa_family == AF_INET && size >= sizeof(sockaddr_in)) ||
                                      (a->sa_family == AF_INET6 && size >= sizeof(sockaddr_in6)));
  if (!ok) throw std::invalid_argument("stakker::loop::socket_address: not an IPv4/IPv6 address");
  r.size_ = a->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  std::memcpy(&r.storage_, a, r.size_);
  return r;
}

std::uint16_t socket_address::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string socket_address::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
                sizeof text);
    return std::string(text) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
                sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(port());
  }
  return "(none)";
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
  return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
}

namespace sys {

unique_fd make_socket(const socket_address& a, int type) {
  if (a.empty()) throw std::invalid_argument("stakker::loop: empty socket_address");
  unique_fd s(::socket(a.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) throw_errno("socket");
  return s;
}

void bind_to(int s, const socket_address& a, const char* what) {
  if (::bind(s, a.native(), a.native_size()) < 0)
    throw_errno(std::string(what) + ": bind " + a.to_string());
}

socket_address local_address_of(int s) {
  sockaddr_storage st{};
  socklen_t len = sizeof st;
  if (::getsockname(s, reinterpret_cast<sockaddr*>(&st), &len) < 0) throw_errno("getsockname");
  return socket_address::from_native(reinterpret_cast<sockaddr*>(&st), len);
}

socket_address peer_address_of(int s) {
  sockaddr_storage st{};
  socklen_t len = sizeof st;
  if (::getpeername(s, reinterpret_cast<sockaddr*>(&st), &len) < 0) throw_errno("getpeername");
  return socket_address::from_native(reinterpret_cast<sockaddr*>(&st), len);
}

}  // namespace sys
}  // namespace stakker::loop
