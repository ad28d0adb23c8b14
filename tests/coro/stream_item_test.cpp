// SPDX-License-Identifier: MIT OR Apache-2.0
// stream_item<T>: what a result-mode stream's next() gives (fwd_stream_result): a value, the
// one failure, or the end (contract K3).
#include "stakker/coro/stream_item.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/coro/fwd_stream.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/fwd.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::fwd;
using stakker::runtime;
using stakker::coro::actor_fail;
using stakker::coro::bad_result_access;
using stakker::coro::bad_stream_item_access;
using stakker::coro::fwd_stream_result;
using stakker::coro::spawn;
using stakker::coro::stream_item;
using stakker::coro::task;
using stakker::testing::counted;
using stakker::testing::counts;

using coro_test::answer;
using coro_test::run;

// The result-mode reader's next() gives a stream_item; a move-only value type is fine, and
// the item is then move-only too.
static_assert(
    std::is_same_v<
        decltype(std::declval<stakker::coro::stream_result_reader<int>&>().next().await_resume()),
        stream_item<int>>);
static_assert(std::is_nothrow_move_constructible_v<stream_item<std::unique_ptr<int>>>);
static_assert(!std::is_copy_constructible_v<stream_item<std::unique_ptr<int>>>);
static_assert(!std::is_convertible_v<stream_item<int>, bool>);  // explicit operator bool

actor_fail fail_with(const char* what) {
  return actor_fail{std::make_exception_ptr(std::runtime_error(what))};
}

TEST(stream_item, a_default_item_is_the_end_neither_a_value_nor_a_failure) {
  const stream_item<int> item;
  EXPECT_TRUE(item.ended());
  EXPECT_FALSE(item.failed());
  EXPECT_FALSE(item.has_value());
  EXPECT_FALSE(static_cast<bool>(item));
}

TEST(stream_item, an_item_with_a_value_is_neither_ended_nor_failed_and_gives_the_value) {
  stream_item<std::string> item(std::string("hello"));
  EXPECT_FALSE(item.ended());
  EXPECT_FALSE(item.failed());
  EXPECT_TRUE(item.has_value());
  EXPECT_TRUE(static_cast<bool>(item));
  EXPECT_EQ(item.value(), "hello");
  EXPECT_EQ(*item, "hello");
  EXPECT_EQ(item->size(), 5u);
  item.value() += "!";  // a reference to the held value
  EXPECT_EQ(std::as_const(item).value(), "hello!");
}

TEST(stream_item, a_failed_item_is_neither_ended_nor_a_value_and_gives_back_its_actor_fail) {
  const actor_fail f = fail_with("producer failed");
  const stream_item<int> item(f);
  EXPECT_FALSE(item.ended());
  EXPECT_TRUE(item.failed());
  EXPECT_FALSE(item.has_value());
  EXPECT_FALSE(static_cast<bool>(item));
  EXPECT_EQ(item.error(), f);
  EXPECT_EQ(item.error().what(), "actor_fail: producer failed");
}

TEST(stream_item, value_at_the_end_throws_bad_stream_item_access) {
  stream_item<int> item;
  EXPECT_THROW(item.value(), bad_stream_item_access);
  EXPECT_THROW(std::as_const(item).value(), bad_stream_item_access);
  EXPECT_THROW(std::move(item).value(), bad_stream_item_access);
  try {
    item.value();
  } catch (const bad_stream_item_access& e) {
    EXPECT_EQ(std::string(e.what()), "stakker::coro::stream_item: value() at the end");
  }
}

TEST(stream_item, value_on_a_failed_item_throws_bad_result_access_holding_the_failure) {
  const actor_fail f = fail_with("gone");
  stream_item<int> item(f);
  EXPECT_THROW(std::as_const(item).value(), bad_result_access);
  EXPECT_THROW(std::move(item).value(), bad_result_access);
  try {
    item.value();
    ADD_FAILURE() << "value() returned";
  } catch (const bad_result_access& e) {
    EXPECT_EQ(e.error(), f);
    EXPECT_EQ(std::string(e.what()), "stakker::coro::result: no value (actor_fail: gone)");
  }
}

TEST(stream_item, error_at_the_end_or_on_a_value_throws_bad_stream_item_access) {
  EXPECT_THROW(stream_item<int>().error(), bad_stream_item_access);
  EXPECT_THROW(stream_item<int>(7).error(), bad_stream_item_access);
}

TEST(stream_item, value_or_gives_the_value_or_else_the_fallback_at_the_end_and_on_a_failure) {
  EXPECT_EQ(stream_item<int>(7).value_or(-1), 7);
  EXPECT_EQ(stream_item<int>().value_or(-1), -1);
  EXPECT_EQ(stream_item<int>(fail_with("x")).value_or(-1), -1);
  const stream_item<std::string> held(std::string("kept"));
  EXPECT_EQ(held.value_or("other"), "kept");
  EXPECT_EQ(held.value(), "kept");  // const&: copied, not moved from
}

TEST(stream_item, a_value_moves_out_without_a_copy_and_each_instance_is_destroyed_once) {
  counts k;
  {
    stream_item<counted> item(counted(k, 5));
    const long copies = k.copied;
    counted out = std::move(item).value();
    EXPECT_EQ(out.value(), 5);
    counted by_star = *stream_item<counted>(counted(k, 6));
    EXPECT_EQ(by_star.value(), 6);
    counted by_or = stream_item<counted>(counted(k, 7)).value_or(counted(k, 0));
    EXPECT_EQ(by_or.value(), 7);
    EXPECT_EQ(k.copied, copies);
  }
  EXPECT_TRUE(k.balanced()) << k.constructed << " constructed, " << k.destroyed << " destroyed";
}

TEST(stream_item, a_move_only_value_moves_out) {
  stream_item<std::unique_ptr<int>> item(std::make_unique<int>(3));
  std::unique_ptr<int> p = std::move(item).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 3);
  EXPECT_TRUE(item.has_value());  // still a value: the moved-from one
  EXPECT_EQ(*item, nullptr);
}

TEST(stream_item, assigning_an_item_destroys_the_value_it_held_once) {
  counts k;
  {
    stream_item<counted> item(counted(k, 1));
    item = stream_item<counted>(fail_with("x"));
    EXPECT_TRUE(item.failed());
    EXPECT_EQ(k.alive(), 0);
    item = stream_item<counted>(counted(k, 2));
    EXPECT_EQ(item->value(), 2);
    item = stream_item<counted>();
    EXPECT_TRUE(item.ended());
    EXPECT_EQ(k.alive(), 0);
  }
  EXPECT_TRUE(k.balanced());
}

// The loop in stream_item's comment, over a real stream: the values, then the failure once.
task<std::vector<std::string>> read_until_end_or_failure(
    stakker::coro::stream_result_reader<counted> reader) {
  std::vector<std::string> seen;
  for (;;) {
    auto item = co_await reader.next();
    if (item.ended()) {
      seen.emplace_back("end");
      break;
    }
    if (item.failed()) {
      seen.push_back("failed: " + item.error().what());
      break;
    }
    counted v = std::move(item).value();
    seen.push_back(std::to_string(v.value()));
  }
  co_return seen;
}

TEST(stream_item,
     the_common_loop_reads_each_value_then_stops_at_a_failure_and_each_value_is_destroyed_once) {
  counts k;
  {
    runtime rt;
    answer<std::vector<std::string>> got;
    {
      auto [reader, f] = fwd_stream_result<counted>(rt);
      f(counted(k, 1));
      f(counted(k, 2));
      spawn(rt, read_until_end_or_failure(std::move(reader)), got.to());
    }  // the last fwd goes before the end
    run(rt);
    ASSERT_TRUE(got.once_with_value());
    EXPECT_EQ(*got.value,
              (std::vector<std::string>{
                  "1", "2", "failed: actor_fail: the other side went away without answering"}));
  }
  EXPECT_TRUE(k.balanced()) << k.constructed << " constructed, " << k.destroyed << " destroyed";
}

TEST(stream_item, the_common_loop_stops_at_a_clean_end_without_a_failure) {
  counts k;
  {
    runtime rt;
    answer<std::vector<std::string>> got;
    auto [reader, f] = fwd_stream_result<counted>(rt);
    spawn(rt, read_until_end_or_failure(std::move(reader)), got.to());
    f(counted(k, 3));
    f(std::nullopt);
    run(rt);
    ASSERT_TRUE(got.once_with_value());
    EXPECT_EQ(*got.value, (std::vector<std::string>{"3", "end"}));
  }
  EXPECT_TRUE(k.balanced());
}

TEST(stream_item, values_left_unread_when_the_reader_goes_are_destroyed_once) {
  counts k;
  {
    runtime rt;
    std::optional<fwd<std::optional<counted>>> keep;
    {
      auto [reader, f] = fwd_stream_result<counted>(rt);
      for (int i = 0; i < 4; ++i) f(counted(k, i));
      keep = std::move(f);
      EXPECT_EQ(reader.buffered(), 4u);
    }  // the reader goes with four values buffered
    EXPECT_EQ(k.alive(), 0);
    (*keep)(counted(k, 9));  // a no-op now: dropped at once
    EXPECT_EQ(k.alive(), 0);
  }
  EXPECT_TRUE(k.balanced());
}

}  // namespace
