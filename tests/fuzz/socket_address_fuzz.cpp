// SPDX-License-Identifier: MIT OR Apache-2.0
// socket_address on arbitrary text and arbitrary kernel-style structures: parse either gives
// an IPv4/IPv6 address that prints (to_string) as text parsing back to the same address, or
// throws std::invalid_argument; from_native, given exactly `size` bytes (so that ASan sees
// any read past them), copies an IPv4/IPv6 address whose text parses back to its family,
// address and port, or throws std::invalid_argument. Nothing else ever escapes.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "stakker/loop/socket_address.hpp"

namespace {

using stakker::fuzz::require;
using stakker::loop::socket_address;

// Parses to_string()'s text back: "a.b.c.d:port" or "[v6]:port".
socket_address reparse(const socket_address& a) {
  const std::string text = a.to_string();
  const std::size_t colon = text.rfind(':');
  require(colon != std::string::npos, "to_string has no port");
  std::string_view host = std::string_view(text).substr(0, colon);
  if (a.family() == AF_INET6) {
    require(host.size() >= 2 && host.front() == '[' && host.back() == ']',
            "an IPv6 to_string is not bracketed");
    host = host.substr(1, host.size() - 2);
  }
  require(text.substr(colon + 1) == std::to_string(a.port()), "to_string's port differs");
  return socket_address::parse(host, a.port());
}

// Family, address and port agree (a native structure may also carry flow and scope ids,
// and padding, which the text does not).
bool same_endpoint(const socket_address& a, const socket_address& b) {
  if (a.family() != b.family() || a.port() != b.port()) return false;
  if (a.family() == AF_INET)
    return std::memcmp(&reinterpret_cast<const sockaddr_in*>(a.native())->sin_addr,
                       &reinterpret_cast<const sockaddr_in*>(b.native())->sin_addr,
                       sizeof(in_addr)) == 0;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a.native())->sin6_addr,
                     &reinterpret_cast<const sockaddr_in6*>(b.native())->sin6_addr,
                     sizeof(in6_addr)) == 0;
}

void check_parse(std::string_view text, std::uint16_t port) {
  socket_address a;
  try {
    a = socket_address::parse(text, port);
  } catch (const std::invalid_argument&) {
    return;
  }
  require(a.family() == AF_INET || a.family() == AF_INET6, "parse gave another family");
  require(a.port() == port, "parse lost the port");
  require(reparse(a) == a, "parse(to_string) differs from the parsed address");
}

void check_from_native(const std::uint8_t* data, std::size_t size, sa_family_t family) {
  // Exactly `size` bytes on the heap, aligned as a sockaddr: reading more is an ASan error.
  auto bytes = std::make_unique<std::uint8_t[]>(size);
  if (size != 0) std::memcpy(bytes.get(), data, size);
  if (size >= sizeof(sa_family_t)) std::memcpy(bytes.get(), &family, sizeof family);
  const auto* native = reinterpret_cast<const sockaddr*>(bytes.get());
  socket_address a;
  try {
    a = socket_address::from_native(native, static_cast<socklen_t>(size));
  } catch (const std::invalid_argument&) {
    require(size < sizeof(sa_family_t) || (family != AF_INET && family != AF_INET6) ||
                (family == AF_INET && size < sizeof(sockaddr_in)) ||
                (family == AF_INET6 && size < sizeof(sockaddr_in6)),
            "from_native refused a complete IPv4/IPv6 address");
    return;
  }
  require(a.family() == family, "from_native changed the family");
  require(socket_address::from_native(a.native(), a.native_size()) == a,
          "from_native of native() is not the same address");
  require(same_endpoint(reparse(a), a), "from_native's to_string does not parse back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const auto port = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
  const std::string_view text(reinterpret_cast<const char*>(data + 3), size - 3);
  check_parse(text, port);
  // The third byte picks the family written over the structure: mostly the two that count.
  const sa_family_t families[] = {AF_INET, AF_INET6, AF_UNSPEC, AF_UNIX};
  const sa_family_t family = data[2] < 252 ? families[data[2] % 2] : families[data[2] % 4];
  check_from_native(data + 3, size - 3, family);
  require(socket_address().to_string() == "(none)", "an empty address does not print (none)");
  return 0;
}
