// SPDX-License-Identifier: MIT OR Apache-2.0
// A model of channel<T> (sync/channel.hpp) on the runtime thread: two queues, the values
// waiting in the channel and the rest of a batch a throwing receiver left, plus closed and
// capacity. Random channels (unbounded, or bounded with `refuse`), sends through copies of
// the producer side, runs, and receivers that throw or close the channel on a value, closes
// and guard replacements. Checked: every send's result, the values delivered and their
// order, each value destroyed once (none kept after close), and the loop woken only by the
// first value into an empty channel. Used by the model test (PRNG) and the fuzz target.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "model/failure.hpp"
#include "stakker/fwd.hpp"
#include "stakker/runtime.hpp"
#include "stakker/sync/channel.hpp"
#include "stakker/testing/counted.hpp"

namespace stakker::model {

template <class Choices>
class channel_driver {
 public:
  // Owned through a pointer, so that a moved-from value (left in the channel's batch until
  // the batch is done) is empty rather than one more live object.
  using value = std::unique_ptr<stakker::testing::counted>;

  explicit channel_driver(Choices& c) : c_(c) {
    rt_.emplace();
    rt_->set_poll_waker([this] { ++polls_; });
  }
  channel_driver(const channel_driver&) = delete;
  channel_driver& operator=(const channel_driver&) = delete;
  ~channel_driver() {
    guard_.reset();
    producers_.clear();
    rt_.reset();
  }

  long delivered() const noexcept { return delivered_; }
  long throws() const noexcept { return throws_; }
  long refused() const noexcept { return refused_; }

  // Closes the channel: then no value may be left alive.
  std::string finish() {
    guard_.reset();
    discard_all();
    return check();
  }

  // One random operation; empty if the channel still matches the model.
  std::string step() {
    if (producers_.empty() || (closed_ && c_.below(8) == 0)) return open();
    std::int64_t op = c_.below(32);
    if (items_.size() + batch_.size() > 2000 && op < 16) op = 20;  // bounded: deliver
    std::string err;
    if (op < 16) {
      err = send();
    } else if (op < 24) {
      err = run();
    } else if (op < 26) {  // the receiver's next value throws, or closes the channel
      (c_.below(2) == 0 ? throw_at_ : close_at_) = delivered_ + c_.in(1, 8);
    } else if (op < 27) {
      guard_->close();
      discard_all();
    } else if (op < 28) {
      if (producers_.front().is_closed() != closed_) err = failure("is_closed is not ", closed_);
    } else if (op < 30) {
      producers_.push_back(producers_[pick()]);  // another producer: a copy
    } else if (op < 31) {
      err = open();
    } else {
      producers_.erase(producers_.begin() + static_cast<std::ptrdiff_t>(pick()));
      if (producers_.empty()) producers_.push_back(*spare_);
    }
    if (!err.empty()) return err;
    return check();
  }

  std::string check() const {
    const auto held = static_cast<long>(items_.size() + batch_.size());
    if (counts_.alive() != held)
      return failure(counts_.alive(), " values alive, the model holds ", held);
    if (counts_.double_destroys != 0) return failure("a value was destroyed twice");
    return {};
  }

 private:
  std::size_t pick() {
    return static_cast<std::size_t>(c_.below(static_cast<std::int64_t>(producers_.size())));
  }

  // A new channel in place of the current one (whose guard then closes it).
  std::string open() {
    guard_.reset();
    discard_all();
    capacity_ = c_.below(3) == 0 ? 0 : static_cast<std::size_t>(c_.in(1, 8));
    auto [ch, guard] = stakker::make_channel<value>(
        *rt_, stakker::fwd_do<value>([this](value v) { receive(std::move(v)); }), capacity_,
        stakker::channel_overflow::refuse);
    producers_.assign(1, ch);
    spare_.emplace(std::move(ch));
    guard_.emplace(std::move(guard));
    closed_ = false;
    return check();
  }

  void discard_all() {
    items_.clear();
    batch_.clear();
    closed_ = true;
  }

  std::string send() {
    const int v = next_value_++;
    const long before = polls_;
    const stakker::send_result got =
        producers_[pick()].try_send(std::make_unique<stakker::testing::counted>(counts_, v));
    stakker::send_result want = stakker::send_result::sent;
    if (closed_)
      want = stakker::send_result::closed;
    else if (capacity_ != 0 && items_.size() >= capacity_)
      want = stakker::send_result::full;
    if (got != want)
      return failure("send of ", v, " gave ", static_cast<int>(got), ", the model ",
                     static_cast<int>(want));
    if (want == stakker::send_result::full) ++refused_;
    if (want != stakker::send_result::sent) return polls_ == before ? "" : failure("woke");
    // Only the first value into an empty channel wakes, and the loop only when no wake is
    // waiting to be collected already.
    const long want_polls = items_.empty() && !woken_ ? 1 : 0;
    if (items_.empty()) woken_ = true;
    items_.push_back(v);
    if (wakes_known_ && polls_ - before != want_polls)
      return failure("send of ", v, " called the poll waker ", polls_ - before, " times, not ",
                     want_polls);
    return {};
  }

  std::string run() {
    got_.clear();
    bool threw = false;
    try {
      rt_->run(rt_->now(), false);
    } catch (const std::runtime_error&) {
      threw = true;
      ++throws_;
    }
    // What the model delivers: the batch's rest, then what was waiting; up to a throw or a
    // close, or all of it.
    std::vector<int> want(batch_.begin(), batch_.end());
    want.insert(want.end(), items_.begin(), items_.end());
    if (got_.size() > want.size() || !std::equal(got_.begin(), got_.end(), want.begin()))
      return failure("delivered ", got_.size(), " values, not a prefix of the model's ",
                     want.size());
    if (closed_in_run_) {
      closed_in_run_ = false;
      discard_all();
      // A receiver that closed the channel and then threw left the wakes of other (older)
      // channels' wakers in the bitmap, or none: unknown until a run completes.
      woken_ = false;
      wakes_known_ = !threw;
      return {};
    }
    if (!threw) {
      if (got_.size() != want.size())
        return failure("a run delivered ", got_.size(), " of ", want.size(), " values");
      batch_.clear();
      items_.clear();
      woken_ = false;
      wakes_known_ = true;
      return {};
    }
    // A throw: before the batch's rest was done the waiting values stay waiting; after, the
    // batch is what was waiting. Either way the receiver woke the runtime again.
    if (got_.size() <= batch_.size()) {
      batch_.erase(batch_.begin(), batch_.begin() + static_cast<std::ptrdiff_t>(got_.size()));
    } else {
      const std::size_t taken = got_.size() - batch_.size();
      batch_.assign(items_.begin() + static_cast<std::ptrdiff_t>(taken), items_.end());
      items_.clear();
    }
    woken_ = true;
    return {};
  }

  void receive(value v) {
    got_.push_back(v->value());
    ++delivered_;
    if (delivered_ == close_at_) {
      guard_->close();
      closed_in_run_ = true;
    }
    if (delivered_ == throw_at_) throw std::runtime_error("receiver threw");
  }

  Choices& c_;
  stakker::testing::counts counts_;  // outlives every value
  std::optional<stakker::runtime> rt_;
  std::vector<stakker::channel<value>> producers_;
  std::optional<stakker::channel<value>> spare_;
  std::optional<stakker::channel_guard<value>> guard_;
  std::deque<int> items_;  // sent, waiting in the channel
  std::deque<int> batch_;  // taken by the receiver's waker, not delivered (after a throw)
  std::size_t capacity_ = 0;
  bool closed_ = true;
  bool woken_ = false;       // a wake is waiting to be collected (the bitmap is not empty)
  bool wakes_known_ = true;  // whether woken_ is known
  bool closed_in_run_ = false;
  long polls_ = 0, delivered_ = 0, throws_ = 0, refused_ = 0;
  long throw_at_ = -1, close_at_ = -1;  // the delivered_ count at which the receiver acts
  int next_value_ = 0;
  std::vector<int> got_;  // delivered in the current run
};

}  // namespace stakker::model
