// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/detail/io_buffer.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

using stakker::loop::detail::io_buffer;

// `n` bytes of a pattern that differs at every offset within 251 bytes, starting at `from`.
std::string pattern(std::size_t from, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('!' + (from + i) % 251 % 90);
  return s;
}

TEST(io_buffer, a_new_buffer_is_empty_and_holds_no_storage) {
  io_buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.data().empty());
}

TEST(io_buffer, appended_bytes_come_out_in_order_and_consume_drops_from_the_front) {
  io_buffer b;
  b.append("hello");
  b.append("");
  b.append(", world");
  EXPECT_EQ(b.data(), "hello, world");
  EXPECT_EQ(b.size(), 12u);
  b.consume(7);
  EXPECT_EQ(b.data(), "world");
  b.consume(0);
  EXPECT_EQ(b.data(), "world");
  b.append("!");
  EXPECT_EQ(b.data(), "world!");
  b.consume(6);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.data(), "");
}

TEST(io_buffer, prepare_gives_at_least_the_room_asked_and_commit_makes_it_content) {
  io_buffer b;
  b.append("ab");
  std::span<char> room = b.prepare(10);
  ASSERT_GE(room.size(), 10u);
  std::memcpy(room.data(), "cdefg", 5);
  b.commit(5);
  EXPECT_EQ(b.data(), "abcdefg");
  // Nothing committed: prepare alone changes no content.
  room = b.prepare(1);
  ASSERT_GE(room.size(), 1u);
  room[0] = 'X';
  EXPECT_EQ(b.data(), "abcdefg");
  // A request larger than the free room grows the buffer.
  const std::size_t big = b.capacity() * 3;
  room = b.prepare(big);
  ASSERT_GE(room.size(), big);
  EXPECT_EQ(b.data(), "abcdefg");
  const std::string fill = pattern(0, big);
  std::memcpy(room.data(), fill.data(), big);
  b.commit(big);
  EXPECT_EQ(b.data(), "abcdefg" + fill);
}

TEST(io_buffer, compaction_moves_the_content_to_the_front_without_growing) {
  io_buffer b;
  const std::string first = pattern(0, 4096);
  b.append(first);
  const std::size_t cap = b.capacity();
  ASSERT_EQ(b.size(), 4096u);
  b.consume(3000);  // 1096 left, 3000 free at the front, none at the back (if cap == 4096)
  const std::size_t free_back = cap - 4096;
  // More than the free room at the back, less than the free room in total.
  const std::size_t want = free_back + 1000;
  ASSERT_LE(1096 + want, cap);
  std::span<char> room = b.prepare(want);
  EXPECT_EQ(b.capacity(), cap);
  ASSERT_GE(room.size(), want);
  EXPECT_EQ(b.data(), first.substr(3000));
  const std::string more = pattern(4096, want);
  std::memcpy(room.data(), more.data(), want);
  b.commit(want);
  EXPECT_EQ(b.data(), first.substr(3000) + more);
  EXPECT_EQ(b.capacity(), cap);
}

TEST(io_buffer, growth_keeps_the_unconsumed_content) {
  io_buffer b;
  std::string expected;
  std::size_t offset = 0;
  // Mixed appends and consumes through several doublings, some with little consumed (so
  // the buffer grows rather than compacts).
  for (int round = 0; round < 12; ++round) {
    const std::size_t n = 1000 + static_cast<std::size_t>(round) * 1777;
    const std::string chunk = pattern(offset, n);
    offset += n;
    b.append(chunk);
    expected += chunk;
    const std::size_t drop = expected.size() / (round % 3 == 0 ? 2 : 17);
    b.consume(drop);
    expected.erase(0, drop);
    ASSERT_EQ(b.data(), expected) << "round " << round;
  }
  EXPECT_GE(b.capacity(), b.size());
  // One append much larger than the capacity.
  const std::string huge = pattern(offset, b.capacity() * 4 + 13);
  b.append(huge);
  expected += huge;
  EXPECT_EQ(b.data(), expected);
}

TEST(io_buffer, consuming_past_the_end_throws_out_of_range_and_changes_nothing) {
  io_buffer b;
  EXPECT_THROW(b.consume(1), std::out_of_range);
  b.append("abc");
  EXPECT_THROW(b.consume(4), std::out_of_range);
  EXPECT_EQ(b.data(), "abc");
  b.consume(1);
  EXPECT_THROW(b.consume(3), std::out_of_range);
  EXPECT_EQ(b.data(), "bc");
  b.consume(2);
  EXPECT_TRUE(b.empty());
}

TEST(io_buffer, a_moved_from_buffer_is_empty_and_usable) {
  io_buffer a;
  a.append("payload");
  a.consume(3);
  io_buffer b(std::move(a));
  EXPECT_EQ(b.data(), "load");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.capacity(), 0u);
  EXPECT_EQ(a.data(), "");
  a.append("again");
  EXPECT_EQ(a.data(), "again");

  io_buffer c;
  c.append("old content");
  c = std::move(b);
  EXPECT_EQ(c.data(), "load");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.capacity(), 0u);
  std::span<char> room = b.prepare(3);
  ASSERT_GE(room.size(), 3u);
  std::memcpy(room.data(), "xyz", 3);
  b.commit(3);
  EXPECT_EQ(b.data(), "xyz");

  // Self-move leaves the content alone.
  io_buffer& alias = c;
  c = std::move(alias);
  EXPECT_EQ(c.data(), "load");
}

TEST(io_buffer, clear_empties_and_release_if_empty_frees_only_an_empty_buffer) {
  io_buffer b;
  b.append("abc");
  b.release_if_empty();
  EXPECT_EQ(b.data(), "abc");
  EXPECT_GT(b.capacity(), 0u);
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_GT(b.capacity(), 0u);
  b.release_if_empty();
  EXPECT_EQ(b.capacity(), 0u);
  b.append("def");
  EXPECT_EQ(b.data(), "def");
}

}  // namespace
