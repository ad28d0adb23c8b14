// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/stop_cause.hpp"

#include <gtest/gtest.h>

#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

using stakker::stop_cause;
using stakker::stop_kind;

std::string streamed(const stop_cause& c) {
  std::ostringstream os;
  os << c;
  return os.str();
}

TEST(stop_cause, stopped_has_its_kind_no_error_and_its_text) {
  stop_cause c = stop_cause::stopped();
  EXPECT_EQ(c.kind(), stop_kind::stopped);
  EXPECT_TRUE(c == stop_kind::stopped);
  EXPECT_FALSE(c == stop_kind::failed);
  EXPECT_FALSE(c.has_error());
  EXPECT_FALSE(c.error());
  EXPECT_EQ(c.message(), "");
  EXPECT_EQ(c.text(), "Actor stopped");
}

TEST(stop_cause, failed_with_a_message_carries_a_runtime_error) {
  stop_cause c = stop_cause::failed("bad input");
  EXPECT_EQ(c.kind(), stop_kind::failed);
  EXPECT_TRUE(c == stop_kind::failed);
  EXPECT_TRUE(c.has_error());
  ASSERT_TRUE(c.error());
  EXPECT_THROW(std::rethrow_exception(c.error()), std::runtime_error);
  EXPECT_EQ(c.message(), "bad input");
  EXPECT_EQ(c.text(), "Actor failed: bad input");
}

TEST(stop_cause, failed_with_an_exception_ptr_keeps_that_exception) {
  std::exception_ptr e = std::make_exception_ptr(std::out_of_range("index 9"));
  stop_cause c = stop_cause::failed(e);
  EXPECT_EQ(c.kind(), stop_kind::failed);
  EXPECT_TRUE(c.has_error());
  EXPECT_EQ(c.error(), e);
  EXPECT_THROW(std::rethrow_exception(c.error()), std::out_of_range);
  EXPECT_EQ(c.text(), "Actor failed: index 9");
}

TEST(stop_cause, killed_has_its_kind_an_error_and_its_text) {
  stop_cause c = stop_cause::killed("operator request");
  EXPECT_EQ(c.kind(), stop_kind::killed);
  EXPECT_TRUE(c == stop_kind::killed);
  EXPECT_TRUE(c.has_error());
  ASSERT_TRUE(c.error());
  EXPECT_EQ(c.message(), "operator request");
  EXPECT_EQ(c.text(), "Actor was killed: operator request");

  stop_cause k2 = stop_cause::killed(std::make_exception_ptr(std::logic_error("why")));
  EXPECT_EQ(k2.kind(), stop_kind::killed);
  EXPECT_EQ(k2.text(), "Actor was killed: why");
}

TEST(stop_cause, dropped_has_its_kind_no_error_and_its_text) {
  stop_cause c = stop_cause::dropped();
  EXPECT_EQ(c.kind(), stop_kind::dropped);
  EXPECT_FALSE(c.has_error());
  EXPECT_FALSE(c.error());
  EXPECT_EQ(c.text(), "Actor was dropped");
}

TEST(stop_cause, lost_has_its_kind_no_error_and_its_text) {
  stop_cause c = stop_cause::lost();
  EXPECT_EQ(c.kind(), stop_kind::lost);
  EXPECT_FALSE(c.has_error());
  EXPECT_FALSE(c.error());
  EXPECT_EQ(c.text(), "Lost connection to actor");
}

TEST(stop_cause, has_error_is_true_for_exactly_failed_and_killed) {
  EXPECT_FALSE(stop_cause::stopped().has_error());
  EXPECT_TRUE(stop_cause::failed("x").has_error());
  EXPECT_TRUE(stop_cause::killed("x").has_error());
  EXPECT_FALSE(stop_cause::dropped().has_error());
  EXPECT_FALSE(stop_cause::lost().has_error());
}

TEST(stop_cause, a_non_std_exception_gets_a_placeholder_message) {
  stop_cause c = stop_cause::failed(std::make_exception_ptr(42));
  EXPECT_TRUE(c.has_error());
  EXPECT_FALSE(c.message().empty());
  EXPECT_EQ(c.text(), "Actor failed: " + c.message());
}

TEST(stop_cause, an_empty_message_gives_the_bare_prefix) {
  EXPECT_EQ(stop_cause::failed(std::string_view{}).text(), "Actor failed: ");
  EXPECT_EQ(stop_cause::killed(std::string_view{}).text(), "Actor was killed: ");
}

TEST(stop_cause, operator_stream_writes_the_text) {
  EXPECT_EQ(streamed(stop_cause::stopped()), "Actor stopped");
  EXPECT_EQ(streamed(stop_cause::failed("oops")), "Actor failed: oops");
  EXPECT_EQ(streamed(stop_cause::killed("bye")), "Actor was killed: bye");
  EXPECT_EQ(streamed(stop_cause::dropped()), "Actor was dropped");
  EXPECT_EQ(streamed(stop_cause::lost()), "Lost connection to actor");
}

TEST(stop_cause, operator_stream_composes_with_other_output) {
  std::ostringstream os;
  os << "[" << stop_cause::failed("e1") << "] " << 7;
  EXPECT_EQ(os.str(), "[Actor failed: e1] 7");
}

TEST(stop_cause, copies_share_the_same_error) {
  stop_cause a = stop_cause::failed("shared");
  stop_cause b = a;
  EXPECT_EQ(a.error(), b.error());
  EXPECT_EQ(b.text(), "Actor failed: shared");
  stop_cause m = std::move(b);
  EXPECT_EQ(m.error(), a.error());
  EXPECT_EQ(m.kind(), stop_kind::failed);
}

TEST(stop_cause, make_error_makes_a_runtime_error_with_the_message) {
  std::exception_ptr e = stakker::make_error("made");
  ASSERT_TRUE(e);
  try {
    std::rethrow_exception(e);
    FAIL() << "nothing thrown";
  } catch (const std::runtime_error& ex) {
    EXPECT_STREQ(ex.what(), "made");
  }
}

}  // namespace
