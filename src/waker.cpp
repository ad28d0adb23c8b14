// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/sync/waker.hpp"

#include <bit>
#include <deque>
#include <stdexcept>
#include <utility>

#include "stakker/core.hpp"
#include "stakker/detail/observer.hpp"

namespace stakker {

namespace detail {

// The runtime thread's side: handlers by id and the free ids.
struct waker_table {
  std::shared_ptr<waker_hub> hub = std::make_shared<waker_hub>();
  // A deque, so that a handler making wakers while it runs is not moved under itself
  // (push_back keeps references to the other elements valid).
  std::deque<std::function<void(core&, bool)>> handlers;
  std::vector<std::uint32_t> free;
  // "Deleted" calls taken from the hub and not yet made: one that throws leaves the rest
  // here for the next poll_wake.
  std::vector<std::uint32_t> dropping;
  std::size_t dropping_next = 0;
  bool polling = false;  // poll_wake is running (it is not re-entrant)
};

waker_hub::~waker_hub() {
  for (auto& g : groups) delete g.load(std::memory_order_relaxed);
}

bool waker_hub::set(std::uint32_t id) noexcept {
  group* g = groups[id / group_bits].load(std::memory_order_acquire);
  const std::uint32_t in_group = id % group_bits;
  const std::uint64_t bit = std::uint64_t{1} << (in_group % 64);
  // A bit already set is still to be collected: whoever set it took care of the rest.
  if (g->words[in_group / 64].fetch_or(bit, std::memory_order_acq_rel) & bit) return false;
  const std::uint64_t word_bit = std::uint64_t{1} << (in_group / 64);
  if (g->summary.fetch_or(word_bit, std::memory_order_acq_rel) & word_bit) return false;
  const std::uint64_t group_bit = std::uint64_t{1} << (id / group_bits);
  // seq_cst: a loop that skips its signal while awake reads `top` after marking itself
  // asleep (see core::wakes_pending).
  return (top.fetch_or(group_bit, std::memory_order_seq_cst) & group_bit) == 0;
}

void waker_hub::drop(std::uint32_t id) {
  {
    std::lock_guard<std::mutex> lock(drop_mutex);
    dropped.push_back(id);
  }
  if (!drops_pending.exchange(true, std::memory_order_seq_cst)) wake_loop();
}

void waker_hub::wake_loop() noexcept {
  std::lock_guard<std::mutex> lock(poll_mutex);
  if (poll_waker) poll_waker();
}

void waker_hub::put_back(std::uint32_t gi, std::uint32_t wi, std::uint64_t bits,
                         std::uint64_t summary, std::uint64_t groups_left) noexcept {
  // In the order wakes set them (word, summary, top): a wake finding its bit set already
  // leaves the rest to whoever set it, and this call then wakes the loop.
  group* g = groups[gi].load(std::memory_order_acquire);
  if (bits != 0) {
    g->words[wi].fetch_or(bits, std::memory_order_acq_rel);
    summary |= std::uint64_t{1} << wi;
  }
  if (summary != 0) {
    g->summary.fetch_or(summary, std::memory_order_acq_rel);
    groups_left |= std::uint64_t{1} << gi;
  }
  if (groups_left != 0) top.fetch_or(groups_left, std::memory_order_seq_cst);
  wake_loop();  // also for "deleted" calls still pending: one spare turn at worst
}

}  // namespace detail

void waker::reset() noexcept {
  if (!hub_) return;
  if (hub_->alive.load(std::memory_order_acquire)) {
    try {
      hub_->drop(id_);
    } catch (...) {
      // Out of memory recording the drop: the handler then hears nothing more.
    }
  }
  hub_.reset();
}

void core::set_poll_waker(std::function<void()> wake_loop) {
  if (!wakers_) wakers_ = new detail::waker_table;
  detail::waker_table& t = *wakers_;
  detail::waker_hub& hub = *t.hub;
  std::function<void()> old;  // destroyed unlocked
  {
    std::lock_guard<std::mutex> lock(hub.poll_mutex);
    old = std::exchange(hub.poll_waker, std::move(wake_loop));
  }
  // A wake that went to the previous poll waker (a loop now gone) or found none is still
  // waiting to be collected: tell the new loop. (A wake after the exchange calls it itself.)
  if (hub.top.load(std::memory_order_acquire) != 0 ||
      hub.drops_pending.load(std::memory_order_acquire) || t.dropping_next < t.dropping.size())
    hub.wake_loop();
}

void core::clear_poll_waker() noexcept {
  if (!wakers_) return;
  detail::waker_hub& hub = *wakers_->hub;
  std::function<void()> old;
  std::lock_guard<std::mutex> lock(hub.poll_mutex);
  old.swap(hub.poll_waker);
}

stakker::waker core::waker(std::function<void(core&, bool)> handler) {
  if (!wakers_ || !wakers_->hub->poll_waker)
    throw std::logic_error(
        "stakker::core::waker: no poll waker set (the loop must call set_poll_waker first)");
  detail::waker_table& t = *wakers_;
  std::uint32_t id;
  if (!t.free.empty()) {
    id = t.free.back();
    t.free.pop_back();
    t.handlers[id] = std::move(handler);
  } else {
    if (t.handlers.size() >= detail::waker_hub::max_wakers)
      throw std::length_error("stakker::core::waker: too many wakers");
    id = static_cast<std::uint32_t>(t.handlers.size());
    auto& g = t.hub->groups[id / detail::waker_hub::group_bits];
    if (g.load(std::memory_order_relaxed) == nullptr)
      g.store(new detail::waker_hub::group, std::memory_order_release);
    t.handlers.push_back(std::move(handler));
  }
  return stakker::waker(t.hub, id);
}

bool core::wakes_pending() const noexcept {
  if (!wakers_) return false;
  const detail::waker_table& t = *wakers_;
  const detail::waker_hub& hub = *t.hub;
  return hub.top.load(std::memory_order_seq_cst) != 0 ||
         hub.drops_pending.load(std::memory_order_seq_cst) || t.dropping_next < t.dropping.size();
}

bool core::poll_wake() { return poll_wake_from(false); }
bool core::poll_wake_at_run_start() { return poll_wake_from(true); }

bool core::poll_wake_from(bool at_run_start) {
  if (!wakers_) return false;
  detail::waker_table& t = *wakers_;
  if (t.polling)
    throw std::logic_error("stakker::core::poll_wake: called from inside a waker handler");
  // Most runs find nothing: plain loads, and out before the guards below are set up (a loop
  // driven by completions, io_loop's, runs once per completion). A wake racing with these
  // loads sets its bits, then the top word, and calls the poll waker when the top word was
  // empty: the run that call leads to sees it.
  if (t.hub->top.load(std::memory_order_relaxed) == 0 &&
      !t.hub->drops_pending.load(std::memory_order_relaxed) && t.dropping_next >= t.dropping.size())
      [[likely]]
    return false;
  return poll_wake_found(at_run_start);
}

// poll_wake past its first look, out of line so that the look costs no more than its loads.
bool core::poll_wake_found(bool at_run_start) {
  detail::waker_table& t = *wakers_;
  t.polling = true;
  struct end_polling {
    bool& p;
    ~end_polling() { p = false; }
  } guard{t.polling};
  detail::waker_hub& hub = *t.hub;
  bool any = false;
  std::size_t handled = 0;  // for the observer
  struct report {
    core& c;
    const std::size_t& n;
    ~report() {
      if (n != 0 && detail::core_access::observing(c)) [[unlikely]]
        detail::observed_wakes(c, n);
    }
  } reported{*this, handled};
  // Plain loads first: most runs find nothing, and a load costs less than an exchange. A wake
  // racing with them sets its bits, then the top word, and calls the poll waker when the top
  // word was empty: it is seen by this exchange or by the run that call leads to.
  std::uint64_t top = hub.top.load(std::memory_order_relaxed) != 0
                          ? hub.top.exchange(0, std::memory_order_acq_rel)
                          : 0;
  while (top != 0) {
    const auto gi = static_cast<std::uint32_t>(std::countr_zero(top));
    top &= top - 1;
    auto* g = hub.groups[gi].load(std::memory_order_acquire);
    std::uint64_t summary = g->summary.exchange(0, std::memory_order_acq_rel);
    while (summary != 0) {
      const auto wi = static_cast<std::uint32_t>(std::countr_zero(summary));
      summary &= summary - 1;
      std::uint64_t bits = g->words[wi].exchange(0, std::memory_order_acq_rel);
      while (bits != 0) {
        const auto bi = static_cast<std::uint32_t>(std::countr_zero(bits));
        bits &= bits - 1;
        const std::uint32_t id = gi * detail::waker_hub::group_bits + wi * 64 + bi;
        // A reference into the deque: stable while the handler makes wakers, and the slot
        // is not reused while it runs (its id is freed only by the "deleted" pass below).
        if (auto& h = t.handlers[id]) {
          any = true;
          ++handled;
          // The last handler of a poll at the start of a run, with nothing queued, may run
          // actor calls in place (core_access::deliver_in_place).
          struct end_in_place {
            bool& b;
            ~end_in_place() { b = false; }
          } in_place{deliver_in_place_};
          in_place.b = at_run_start && bits == 0 && summary == 0 && top == 0 && main_.empty() &&
                       observe_ == 0 && !hub.drops_pending.load(std::memory_order_relaxed) &&
                       t.dropping_next >= t.dropping.size();
          try {
            h(*this, false);
          } catch (...) {
            hub.put_back(gi, wi, bits, summary, top);
            throw;
          }
        }
      }
    }
  }
  if (hub.drops_pending.load(std::memory_order_relaxed) &&
      hub.drops_pending.exchange(false, std::memory_order_acq_rel)) {
    std::lock_guard<std::mutex> lock(hub.drop_mutex);
    if (t.dropping_next == t.dropping.size()) {
      t.dropping.clear();
      t.dropping_next = 0;
      t.dropping.swap(hub.dropped);  // the emptied vector goes back with its capacity
    } else {
      // After a throwing "deleted" call (rare): the ones it left go first.
      t.dropping.insert(t.dropping.end(), hub.dropped.begin(), hub.dropped.end());
      hub.dropped.clear();
    }
  }
  while (t.dropping_next < t.dropping.size()) {
    const std::uint32_t id = t.dropping[t.dropping_next];
    // A wake that raced with the drop may still be set: the id is reused only after this.
    t.free.push_back(id);
    ++t.dropping_next;
    auto h = std::move(t.handlers[id]);
    t.handlers[id] = nullptr;
    any = true;
    if (!h) continue;
    try {
      h(*this, true);
    } catch (...) {
      if (t.dropping_next < t.dropping.size()) hub.wake_loop();
      throw;
    }
  }
  t.dropping.clear();
  t.dropping_next = 0;
  return any;
}

void core::destroy_wakers() noexcept {
  if (!wakers_) return;
  wakers_->hub->alive.store(false, std::memory_order_release);
  clear_poll_waker();  // what it holds (the loop's eventfd) goes now, not with the last waker
  delete wakers_;
  wakers_ = nullptr;
}

}  // namespace stakker
