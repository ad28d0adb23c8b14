// SPDX-License-Identifier: MIT OR Apache-2.0
// A model of the runtime's main queue (detail::flat_queue): a std::deque of ids. Random
// pushes of closures of many sizes (inline, spanning chunk ends, boxed, over-aligned), runs
// (run_one, run_all, run_until a mark), closures that push more while they run or throw, and
// destroy_all, rewind, trim; checked after each operation: the closures run in the model's
// order, each destroyed exactly once, and no more alive than the model has queued.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/failure.hpp"
#include "stakker/detail/flat_queue.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace stakker::model {

template <class Choices>
class flat_queue_driver {
 public:
  explicit flat_queue_driver(Choices& c) : c_(c) {}

  // One random operation; empty if the queue still matches the model.
  std::string step() {
    // Now and then a build-up phase: runs take one closure at a time, so the queue grows
    // over many chunks.
    if (c_.below(2000) == 0) build_up_ = !build_up_;
    std::int64_t op = c_.below(20);
    if (build_up_ && ((op >= 13 && op < 17) || op == 19)) op = 10;
    std::string err;
    if (op < 10) {
      push(static_cast<int>(c_.below(64) == 0 ? c_.in(1, 3) : 0), c_.below(32) == 0);
    } else if (op < 13) {
      const bool any = !model_.empty();
      bool ran = false, returned = false;
      err = run([&] { ran = queue_.run_one(rt_), returned = true; }, 1);
      if (err.empty() && returned && ran != any)
        err = failure("run_one returned ", ran, " with ", any ? "a" : "no", " closure queued");
    } else if (op < 15) {
      err = run([&] { queue_.run_all(rt_); }, all);
    } else if (op < 17) {
      std::byte* mark = queue_.mark();
      err = run([&] { queue_.run_until(rt_, mark); }, model_.size());
    } else if (op < 18) {
      queue_.rewind();
    } else if (op < 19) {
      queue_.trim(static_cast<std::size_t>(c_.below(3)));
    } else if (c_.below(8) == 0) {
      queue_.destroy_all();
      model_.clear();
    }
    return err.empty() ? check() : err;
  }

  std::size_t queued() const noexcept { return model_.size(); }
  std::size_t capacity_bytes() const noexcept { return queue_.capacity_bytes(); }

  // Destroys what is still queued: then no closure may be left alive.
  std::string finish() {
    queue_.destroy_all();
    model_.clear();
    return check();
  }

  std::string check() const {
    if (queue_.empty() != model_.empty())
      return failure("empty() is ", queue_.empty(), ", the model holds ", model_.size());
    if (counts_.alive() != static_cast<long>(model_.size()))
      return failure(counts_.alive(), " closures alive, the model holds ", model_.size());
    if (counts_.double_destroys != 0) return failure("a closure was destroyed twice");
    return {};
  }

 private:
  // A closure of `Pad` bytes and alignment `Align`; when run it records its id, pushes
  // `spawn` more closures, then throws if asked to.
  template <std::size_t Pad, std::size_t Align>
  struct alignas(Align) closure {
    flat_queue_driver* d;
    stakker::testing::counted id;
    int spawn;
    bool throws;
    std::array<char, Pad> pad{};
    void operator()(stakker::core&) { d->ran(id.value(), spawn, throws); }
  };

  void push(int spawn, bool throws) {
    const int id = next_id_++;
    model_.push_back({id, spawn, throws});
    switch (c_.below(8)) {
      case 0:
        return emplace<1, 8>(id, spawn, throws);
      case 1:
        return emplace<40, 8>(id, spawn, throws);
      case 2:
        return emplace<200, 8>(id, spawn, throws);
      case 3:
        return emplace<1000, 8>(id, spawn, throws);  // inline, near max_inline
      case 4:
        return emplace<1100, 8>(id, spawn, throws);  // boxed: too large
      case 5:
        return emplace<8, 64>(id, spawn, throws);  // boxed: over-aligned
      default:
        return emplace<16, 8>(id, spawn, throws);
    }
  }
  template <std::size_t Pad, std::size_t Align>
  void emplace(int id, int spawn, bool throws) {
    queue_.push(closure<Pad, Align>{this, stakker::testing::counted(counts_, id), spawn, throws});
  }

  void ran(int id, int spawn, bool throws) {
    ran_.push_back(id);
    for (int i = 0; i < spawn; ++i) push(0, false);
    if (throws) throw std::runtime_error("closure threw");
  }

  static constexpr std::size_t all = SIZE_MAX;

  // Runs `f`, which should run the first `limit` closures queued before it (`all`: also
  // those they push), stopping after one that throws; compares what ran with the model.
  template <class F>
  std::string run(F f, std::size_t limit) {
    const std::size_t before = model_.size();
    ran_.clear();
    try {
      f();
    } catch (const std::runtime_error&) {
    }
    std::size_t want = limit == all ? model_.size() : std::min(limit, before);
    for (std::size_t i = 0; i < want; ++i) {
      if (model_[i].throws) want = i + 1;
    }
    if (ran_.size() != want) return failure(ran_.size(), " closures ran, the model ", want);
    for (std::size_t i = 0; i < want; ++i) {
      if (ran_[i] != model_.front().id)
        return failure("closure ", ran_[i], " ran where the model has ", model_.front().id);
      model_.pop_front();
    }
    return {};
  }

  struct entry {
    int id;
    int spawn;
    bool throws;
  };

  Choices& c_;
  stakker::testing::counts counts_;  // outlives the queue
  stakker::runtime rt_;
  stakker::detail::flat_queue queue_;
  std::deque<entry> model_;
  std::vector<int> ran_;
  int next_id_ = 0;
  bool build_up_ = false;
};

}  // namespace stakker::model
