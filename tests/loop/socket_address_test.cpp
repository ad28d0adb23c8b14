// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/socket_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using namespace std::string_view_literals;
using stakker::loop::socket_address;

TEST(socket_address, a_default_address_is_empty) {
  const socket_address a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.family(), AF_UNSPEC);
  EXPECT_EQ(a.port(), 0);
  EXPECT_EQ(a.native_size(), 0u);
  EXPECT_EQ(a.to_string(), "(none)");
  EXPECT_EQ(a, socket_address());
}

TEST(socket_address, parses_a_numeric_ipv4_address) {
  const socket_address a = socket_address::parse("192.168.1.20", 8080);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.port(), 8080);
  EXPECT_EQ(a.native_size(), sizeof(sockaddr_in));
  const auto* in = reinterpret_cast<const sockaddr_in*>(a.native());
  EXPECT_EQ(in->sin_family, AF_INET);
  EXPECT_EQ(ntohs(in->sin_port), 8080);
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0xC0A80114u);
  EXPECT_EQ(a.to_string(), "192.168.1.20:8080");
}

TEST(socket_address, parses_a_numeric_ipv6_address) {
  const socket_address a = socket_address::parse("2001:db8:0:0:0:0:0:1", 443);
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(a.port(), 443);
  EXPECT_EQ(a.native_size(), sizeof(sockaddr_in6));
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.native());
  EXPECT_EQ(in6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(in6->sin6_port), 443);
  EXPECT_EQ(in6->sin6_addr.s6_addr[0], 0x20);
  EXPECT_EQ(in6->sin6_addr.s6_addr[15], 0x01);
  // Printed in the canonical short form, bracketed.
  EXPECT_EQ(a.to_string(), "[2001:db8::1]:443");
  EXPECT_EQ(socket_address::parse("::1", 0).to_string(), "[::1]:0");
  EXPECT_EQ(socket_address::parse("::", 65535).to_string(), "[::]:65535");
  EXPECT_EQ(socket_address::parse("::ffff:10.0.0.1", 7).to_string(), "[::ffff:10.0.0.1]:7");
}

TEST(socket_address, parse_takes_a_string_view_that_is_not_terminated) {
  const std::string_view text = "127.0.0.1999"sv.substr(0, 9);
  EXPECT_EQ(socket_address::parse(text, 1).to_string(), "127.0.0.1:1");
}

TEST(socket_address, bad_text_throws_invalid_argument_naming_the_text) {
  for (std::string_view bad :
       {"localhost"sv, ""sv, "256.0.0.1"sv, "1.2.3"sv, "1.2.3.4:80"sv, "[::1]"sv, " 10.0.0.1"sv,
        ":::1"sv, "10.0.0.1 "sv, "example.com"sv}) {
    try {
      socket_address::parse(bad, 80);
      ADD_FAILURE() << "parsed \"" << bad << "\"";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("\"" + std::string(bad) + "\""), std::string::npos)
          << e.what();
    }
  }
}

TEST(socket_address, text_with_an_embedded_nul_is_not_an_address) {
  const std::string_view text = "127.0.0.1\0junk"sv;
  EXPECT_THROW(socket_address::parse(text, 80), std::invalid_argument);
  EXPECT_THROW(socket_address::parse("::1\0"sv, 80), std::invalid_argument);
}

TEST(socket_address, loopback_and_any_are_the_well_known_addresses) {
  const socket_address l4 = socket_address::loopback_v4(1234);
  EXPECT_EQ(l4.family(), AF_INET);
  EXPECT_EQ(l4.port(), 1234);
  EXPECT_EQ(l4.to_string(), "127.0.0.1:1234");
  EXPECT_EQ(l4, socket_address::parse("127.0.0.1", 1234));

  const socket_address l6 = socket_address::loopback_v6(99);
  EXPECT_EQ(l6.family(), AF_INET6);
  EXPECT_EQ(l6.port(), 99);
  EXPECT_EQ(l6.to_string(), "[::1]:99");
  EXPECT_EQ(l6, socket_address::parse("::1", 99));

  const socket_address any = socket_address::any_v4(0);
  EXPECT_EQ(any.family(), AF_INET);
  EXPECT_EQ(any.port(), 0);
  EXPECT_EQ(any.to_string(), "0.0.0.0:0");
  EXPECT_EQ(any, socket_address::parse("0.0.0.0", 0));
}

TEST(socket_address, equality_compares_family_address_and_port) {
  const socket_address a = socket_address::parse("10.1.2.3", 80);
  socket_address copy = a;
  EXPECT_EQ(copy, a);
  EXPECT_FALSE(copy != a);
  EXPECT_NE(a, socket_address::parse("10.1.2.3", 81));
  EXPECT_NE(a, socket_address::parse("10.1.2.4", 80));
  EXPECT_NE(a, socket_address());
  EXPECT_NE(socket_address::loopback_v4(80), socket_address::loopback_v6(80));
  EXPECT_NE(socket_address::parse("::ffff:127.0.0.1", 80), socket_address::loopback_v4(80));
  EXPECT_EQ(socket_address::parse("2001:db8::1", 5), socket_address::parse("2001:DB8:0::1", 5));
  copy = socket_address::loopback_v6(80);
  EXPECT_EQ(copy, socket_address::loopback_v6(80));
}

TEST(socket_address, from_native_copies_ipv4_and_ipv6_and_refuses_other_families) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(4242);
  in.sin_addr.s_addr = htonl(0x7F000001);
  const socket_address a =
      socket_address::from_native(reinterpret_cast<const sockaddr*>(&in), sizeof in);
  EXPECT_EQ(a, socket_address::loopback_v4(4242));

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(4243);
  in6.sin6_addr = in6addr_loopback;
  const socket_address b =
      socket_address::from_native(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
  EXPECT_EQ(b, socket_address::loopback_v6(4243));

  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_THROW(socket_address::from_native(reinterpret_cast<const sockaddr*>(&un), sizeof un),
               std::invalid_argument);
  // Too short for its family.
  EXPECT_THROW(socket_address::from_native(reinterpret_cast<const sockaddr*>(&in6), sizeof in),
               std::invalid_argument);
}

// Found by tests/fuzz/socket_address_fuzz: the family was read before the size was checked.
TEST(socket_address, from_native_given_fewer_bytes_than_a_family_throws_without_reading_them) {
  // The structure ends where an inaccessible page begins: reading the family would fault.
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* map = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto* bytes = static_cast<std::byte*>(map);
  ASSERT_EQ(::mprotect(bytes + page, page, PROT_NONE), 0);
  const auto* at_end = reinterpret_cast<const sockaddr*>(bytes + page);
  EXPECT_THROW(socket_address::from_native(at_end, 0), std::invalid_argument);
  ::munmap(map, 2 * page);
}

}  // namespace
