// SPDX-License-Identifier: MIT OR Apache-2.0
// A model of the wakers (sync/waker.hpp, the bitmap in src/waker.cpp), single-threaded: a
// flag per waker for "woken, call not seen yet" and "reset, deleted call not seen yet".
// Random makes, wakes (through the waker or a waker_ref, also stale ones), resets, runs, poll
// waker replacements and removals, and handlers that throw, reset themselves or make and
// wake a new waker while they run. Checked: every wake is delivered by the next run that
// completes (merged, never lost), no call that was not due (beyond what stale refs allow),
// one deleted call per reset, nothing after it, and the poll waker called exactly when the
// bitmap goes from empty to not. Used by the model test (PRNG) and the fuzz target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "model/failure.hpp"
#include "stakker/runtime.hpp"
#include "stakker/sync/waker.hpp"

namespace stakker::model {

template <class Choices>
class waker_driver {
 public:
  explicit waker_driver(Choices& c) : c_(c) {
    rt_.emplace();
    rt_->set_poll_waker([this] { ++polls_; });
  }
  waker_driver(const waker_driver&) = delete;
  waker_driver& operator=(const waker_driver&) = delete;
  // The runtime goes first: the wakers outliving it must then do nothing at all.
  ~waker_driver() {
    rt_.reset();
    for (slot& s : slots_) {
      s.w.wake();
      s.ref.wake();
    }
    slots_.clear();
  }

  long calls() const noexcept { return calls_; }
  long throws() const noexcept { return throws_; }
  std::size_t made() const noexcept { return slots_.size(); }

  // One random operation; empty if the wakers still match the model.
  std::string step() {
    const std::int64_t op = c_.below(32);
    if (slots_.empty()) return make();
    if (op < 4) return held_ < max_held ? make() : reset_oldest();
    if (op < 14) return wake(pick(), c_.below(4) == 0);
    if (op < 17) return reset(pick());
    if (op < 25) return run();
    if (op < 26) {  // a move out and back: the waker keeps its handler
      slot& s = slots_[pick()];
      stakker::waker moved(std::move(s.w));
      s.w = std::move(moved);
      return {};
    }
    if (op < 27) return replace_poll_waker(c_.below(4) == 0);
    // Behaviours for a waker's next calls.
    slot& s = slots_[pick()];
    const std::int64_t b = c_.below(4);
    if (b == 0) s.throw_on_call = true;
    if (b == 1) s.throw_on_delete = true;
    if (b == 2) s.reset_on_call = true;
    if (b == 3) s.make_on_call = true;
    return {};
  }

  // Runs until a run completes without a handler throwing, then checks that no wake and no
  // reset is left undelivered.
  std::string drain() {
    for (int i = 0; i < 1000; ++i) {
      if (std::string err = run(); !err.empty()) return err;
      if (!last_run_threw_) return {};
    }
    return failure("runs kept throwing");
  }

 private:
  struct slot {
    stakker::waker w;
    stakker::waker_ref ref;
    bool alive = true;         // not reset
    bool pending = false;      // woken, the call not seen
    long woken_in_run = -1;    // the run during which it was last woken (-1: outside runs)
    bool deleted_due = false;  // reset, the deleted call not seen
    bool deleted_seen = false;
    bool throw_on_call = false, throw_on_delete = false, reset_on_call = false,
         make_on_call = false;
  };

  // Mostly one of the most recent wakers; sometimes any. There must be one.
  std::size_t pick() {
    const auto n = static_cast<std::int64_t>(slots_.size());
    if (c_.below(8) == 0) return static_cast<std::size_t>(c_.below(n));
    return static_cast<std::size_t>(n - 1 - c_.below(std::min<std::int64_t>(n, 32)));
  }

  // Ids are reused, so at most held_ are in use: kept below one group of the bitmap (4096),
  // where "the bitmap was empty" is "no waker was pending".
  static constexpr std::size_t max_held = 3000;

  bool anything_due() const { return !pending_.empty() || !deleted_due_.empty(); }

  void set_pending(std::size_t i, bool p) {
    slots_[i].pending = p;
    if (p)
      pending_.insert(i);
    else
      pending_.erase(i);
  }

  // Resets the oldest waker not reset yet (amortised O(1): a cursor that only moves on).
  std::string reset_oldest() {
    while (oldest_ < slots_.size() && !slots_[oldest_].alive) ++oldest_;
    return oldest_ < slots_.size() ? reset(oldest_) : std::string();
  }

  std::string make() {
    const std::size_t i = slots_.size();
    if (!poll_set_) {
      try {
        (void)rt_->waker([](core&, bool) {});
        return failure("a waker was made without a poll waker");
      } catch (const std::logic_error&) {
        return {};
      }
    }
    slots_.emplace_back();
    ++held_;
    slots_[i].w = rt_->waker([this, i](core&, bool deleted) { on_call(i, deleted); });
    slots_[i].ref = slots_[i].w.ref();
    return {};
  }

  std::string wake(std::size_t i, bool through_ref) {
    slot& s = slots_[i];
    const long before = polls_;
    const bool was_pending = s.pending, any = !pending_.empty();
    if (through_ref)
      s.ref.wake();
    else
      s.w.wake();
    const long delta = polls_ - before;
    if (!s.alive) {
      // A waker reset: nothing. A stale ref: may set its old id, reaching the handler still
      // there (its deleted call not made yet) or one that took the id since.
      if (!through_ref && delta != 0) return failure("a reset waker woke the loop");
      if (through_ref) ++stale_allowance_, exact_ = false;
      return {};
    }
    set_pending(i, true);
    s.woken_in_run = running_ ? runs_ : -1;
    if (running_) woke_in_run_ = true;
    if (!exact_ || running_) return delta <= 1 ? "" : failure(delta, " polls");
    const long want = !poll_set_ || was_pending || any ? 0 : 1;
    if (delta != want) return failure("a wake called the poll waker ", delta, " times, not ", want);
    return {};
  }

  std::string reset(std::size_t i) {
    slot& s = slots_[i];
    const long before = polls_;
    s.w.reset();
    if (!s.alive) return polls_ == before ? "" : failure("a second reset woke the loop");
    s.alive = false;
    s.deleted_due = true;
    deleted_due_.insert(i);
    const long want = !poll_set_ || drops_pending_ ? 0 : 1;
    drops_pending_ = true;
    if (!running_ && polls_ - before != want)
      return failure("a reset called the poll waker ", polls_ - before, " times, not ", want);
    return {};
  }

  std::string replace_poll_waker(bool clear) {
    const long before = polls_;
    if (clear) {
      rt_->clear_poll_waker();
      poll_set_ = false;
      return polls_ == before ? "" : failure("clearing the poll waker called it");
    }
    rt_->set_poll_waker([this] { ++polls_; });
    poll_set_ = true;
    const long want = anything_due() ? 1 : 0;
    if (exact_ && polls_ - before != want)
      return failure("a new poll waker was called ", polls_ - before, " times, not ", want);
    return {};
  }

  std::string run() {
    ++runs_;
    error_.clear();
    in_delete_pass_ = false;
    last_run_threw_ = false;
    woke_in_run_ = false;
    running_ = true;
    try {
      rt_->run(rt_->now(), false);
    } catch (const std::runtime_error&) {
      last_run_threw_ = true;
      ++throws_;
    }
    running_ = false;
    if (!error_.empty()) return error_;
    // The drop pass ran (a deleted call was made, or the run completed): resets up to it
    // were collected.
    if (!last_run_threw_ || in_delete_pass_) drops_pending_ = false;
    if (woke_in_run_) exact_ = false;
    if (last_run_threw_) return {};
    // A stale ref's bit on an id a waker made in this run took may have been what delivered
    // that waker's wake, whose own bit then waits for the next run: the allowance stays.
    if (!woke_in_run_) stale_allowance_ = 0;
    exact_ = !woke_in_run_;
    for (const std::size_t i : pending_)
      if (slots_[i].woken_in_run != runs_)
        return failure("waker ", i, ": a wake before the run was not delivered");
    if (!deleted_due_.empty())
      return failure("waker ", *deleted_due_.begin(), ": reset before the run, no deleted call");
    return {};
  }

  // Every handler call: checked against the model, then the waker's behaviour.
  void on_call(std::size_t i, bool deleted) {
    slot& s = slots_[i];
    ++calls_;
    if (!running_) error_ = failure("waker ", i, " called outside a run");
    if (s.deleted_seen) error_ = failure("waker ", i, " called after its deleted call");
    if (deleted) {
      in_delete_pass_ = true;
      if (!s.deleted_due) error_ = failure("waker ", i, ": a deleted call before any reset");
      s.deleted_seen = true;
      deleted_due_.erase(i);
      --held_;
      if (std::exchange(s.throw_on_delete, false)) throw std::runtime_error("deleted call threw");
      return;
    }
    if (in_delete_pass_) error_ = failure("waker ", i, ": a wake call after the deleted calls");
    if (s.pending) {
      set_pending(i, false);
    } else if (stale_allowance_ > 0) {
      --stale_allowance_;
    } else {
      error_ = failure("waker ", i, ": a call with no wake due");
    }
    if (std::exchange(s.reset_on_call, false)) (void)reset(i);
    if (std::exchange(s.make_on_call, false) && poll_set_) {
      (void)make();
      (void)wake(slots_.size() - 1, false);  // delivered in this run or the next
    }
    if (std::exchange(s.throw_on_call, false)) throw std::runtime_error("wake call threw");
  }

  Choices& c_;
  std::optional<stakker::runtime> rt_;
  std::deque<slot> slots_;  // never erased: an index names one waker for ever
  long polls_ = 0, calls_ = 0, throws_ = 0, runs_ = 0;
  std::set<std::size_t> pending_, deleted_due_;  // indices of wakers with the flag set
  std::size_t held_ = 0;                         // made, deleted call not seen: ids in use
  std::size_t oldest_ = 0;                       // no waker before it is alive
  long stale_allowance_ = 0;  // spurious calls stale refs may cause before a complete run
  // Whether the bitmap is known to be empty exactly when no waker is pending, so that the
  // poll waker's calls can be predicted. Not after a stale ref's wake, nor after a wake from a
  // handler (it may leave summary bits set for words the run then emptied), until a run
  // completes without either.
  bool exact_ = true;
  bool woke_in_run_ = false;
  bool poll_set_ = true;
  bool drops_pending_ = false;  // a reset not yet collected by a drop pass
  bool running_ = false, in_delete_pass_ = false, last_run_threw_ = false;
  std::string error_;  // the first disagreement seen inside a handler
};

}  // namespace stakker::model
