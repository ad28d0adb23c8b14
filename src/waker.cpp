#include "stakker/sync/waker.hpp"

#include <bit>
#include <stdexcept>

#include "stakker/core.hpp"

namespace stakker {

namespace detail {

// The runtime thread's side: handlers by id and the free ids.
struct waker_table {
  std::shared_ptr<waker_hub> hub = std::make_shared<waker_hub>();
  std::vector<std::function<void(core&, bool)>> handlers;
  std::vector<std::uint32_t> free;
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
  return (top.fetch_or(group_bit, std::memory_order_acq_rel) & group_bit) == 0;
}

void waker_hub::drop(std::uint32_t id) {
  {
    std::lock_guard<std::mutex> lock(drop_mutex);
    dropped.push_back(id);
  }
  if (!drops_pending.exchange(true, std::memory_order_acq_rel)) poll_waker();
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
  if (wakers_ && !wakers_->handlers.empty())
    throw std::logic_error("stakker::core::set_poll_waker: wakers already exist");
  if (!wakers_) wakers_ = new detail::waker_table;
  wakers_->hub->poll_waker = std::move(wake_loop);
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

bool core::poll_wake() {
  if (!wakers_) return false;
  detail::waker_hub& hub = *wakers_->hub;
  bool any = false;
  // Plain loads first: most runs find nothing, and a load costs less than an exchange. A wake
  // racing with them sets its bits, then the top word, and calls the poll waker when the top
  // word was empty: it is seen by this exchange or by the run that call leads to.
  std::uint64_t top = hub.top.load(std::memory_order_relaxed) != 0
                          ? hub.top.exchange(0, std::memory_order_acq_rel)
                          : 0;
  while (top != 0) {
    const int gi = std::countr_zero(top);
    top &= top - 1;
    auto* g = hub.groups[static_cast<std::size_t>(gi)].load(std::memory_order_acquire);
    std::uint64_t summary = g->summary.exchange(0, std::memory_order_acq_rel);
    while (summary != 0) {
      const int wi = std::countr_zero(summary);
      summary &= summary - 1;
      std::uint64_t bits =
          g->words[static_cast<std::size_t>(wi)].exchange(0, std::memory_order_acq_rel);
      while (bits != 0) {
        const int bi = std::countr_zero(bits);
        bits &= bits - 1;
        const auto id = static_cast<std::uint32_t>(gi) * detail::waker_hub::group_bits +
                        static_cast<std::uint32_t>(wi) * 64 + static_cast<std::uint32_t>(bi);
        if (auto& h = wakers_->handlers[id]) {
          any = true;
          h(*this, false);
        }
      }
    }
  }
  if (hub.drops_pending.load(std::memory_order_relaxed) &&
      hub.drops_pending.exchange(false, std::memory_order_acq_rel)) {
    std::vector<std::uint32_t> dropped;
    {
      std::lock_guard<std::mutex> lock(hub.drop_mutex);
      dropped.swap(hub.dropped);
    }
    for (std::uint32_t id : dropped) {
      // A wake that raced with the drop may still be set: the id is reused only after this.
      auto h = std::move(wakers_->handlers[id]);
      wakers_->handlers[id] = nullptr;
      wakers_->free.push_back(id);
      any = true;
      if (h) h(*this, true);
    }
  }
  return any;
}

void core::destroy_wakers() noexcept {
  if (!wakers_) return;
  wakers_->hub->alive.store(false, std::memory_order_release);
  delete wakers_;
  wakers_ = nullptr;
}

}  // namespace stakker
