// SPDX-License-Identifier: MIT OR Apache-2.0
// The metrics endpoint's request-head parser (internal: src/observe/http_request.hpp).
#include "observe/http_request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace {

using stakker::observe::detail::head_status;
using stakker::observe::detail::parse_request_head;

TEST(http_request_head, parses_a_complete_head_and_gives_its_size) {
  const std::string in = "GET /metrics?a=b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nNEXT";
  const auto h = parse_request_head(in, 8192);
  ASSERT_EQ(h.status, head_status::complete) << h.error;
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.target, "/metrics?a=b");
  EXPECT_EQ(h.minor_version, 1);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.has_body);
  EXPECT_EQ(h.head_size, in.size() - 4);
}

TEST(http_request_head, accepts_bare_lf_and_empty_lines_before_the_request_line) {
  const auto h = parse_request_head("\r\n\nHEAD / HTTP/1.0\nconnection: Keep-Alive\n\n", 8192);
  ASSERT_EQ(h.status, head_status::complete) << h.error;
  EXPECT_EQ(h.method, "HEAD");
  EXPECT_EQ(h.minor_version, 0);
  EXPECT_TRUE(h.keep_alive);
}

TEST(http_request_head, reads_connection_options_and_body_fields) {
  auto h = parse_request_head(
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, Close\r\nContent-Length: 0\r\n"
      "Content-Length: 0\r\n\r\n",
      8192);
  ASSERT_EQ(h.status, head_status::complete) << h.error;
  EXPECT_FALSE(h.keep_alive);
  EXPECT_FALSE(h.has_body);
  h = parse_request_head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n", 8192);
  EXPECT_TRUE(h.has_body);
  h = parse_request_head(
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 8192);
  EXPECT_EQ(h.status, head_status::bad);
}

TEST(http_request_head, is_incomplete_until_the_empty_line) {
  const std::string in = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t n = 0; n < in.size(); ++n)
    EXPECT_EQ(parse_request_head(in.substr(0, n), 8192).status, head_status::incomplete) << n;
}

TEST(http_request_head, refuses_a_bad_method_before_the_line_is_complete) {
  EXPECT_EQ(parse_request_head("G{", 8192).status, head_status::bad);
  EXPECT_EQ(parse_request_head("\r", 8192).status, head_status::incomplete);
  EXPECT_EQ(parse_request_head("\rX", 8192).status, head_status::bad);
}

TEST(http_request_head, is_too_large_when_the_head_cannot_end_within_the_limit) {
  const std::string in = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(parse_request_head(in, in.size()).status, head_status::complete);
  EXPECT_EQ(parse_request_head(in, in.size() - 1).status, head_status::too_large);
  EXPECT_EQ(parse_request_head(in.substr(0, 10), 10).status, head_status::too_large);
  EXPECT_EQ(parse_request_head(in.substr(0, 9), 10).status, head_status::incomplete);
}

}  // namespace
