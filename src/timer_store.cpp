// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/timer_store.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <stdexcept>

namespace stakker::detail {

namespace {
constexpr tick no_tick = std::numeric_limits<tick>::max();
// Buckets up to this size have their slots prefetched when extracted (they fire next).
constexpr std::size_t prefetch_bucket = 64;
// How far ahead a pass over entries (or the free stack) prefetches slots.
constexpr std::size_t ahead = 8;
}  // namespace

int timer_store::bucket_of(tick when) const noexcept {
  return static_cast<int>(std::bit_width(when ^ last_));
}

void timer_store::push(tick when, std::uint64_t seq, std::uint32_t s, std::uint32_t gen) {
  int b = bucket_of(when);
  buckets_[static_cast<std::size_t>(b)].push_back(entry{when, seq, s, gen});
  if (b != 0) {
    auto& m = bucket_min_[static_cast<std::size_t>(b)];
    if ((occupied_ >> (b - 1) & 1u) == 0 || when < m) m = when;
    occupied_ |= std::uint64_t{1} << (b - 1);
  }
  ++entries_;
}

std::uint32_t timer_store::take_slot() {
  if (!free_.empty()) {
    std::uint32_t s = free_.back();
    free_.pop_back();
    // Slots taken in a burst are scattered (freed in firing order): fetch ahead.
    if (free_.size() > ahead) __builtin_prefetch(&slot_at(free_[free_.size() - ahead]), 1);
    return s;
  }
  if (slot_count_ == chunks_.size() * chunk_slots) {
    if (slot_count_ >= no_slot - chunk_slots) throw std::length_error("stakker: too many timers");
    chunks_.reserve(chunks_.size() + 1);
    free_.reserve(chunks_.size() * chunk_slots + chunk_slots);  // free_slot never allocates
    chunks_.push_back(std::make_unique<slot[]>(chunk_slots));
  }
  return slot_count_++;
}

void timer_store::free_slot(std::uint32_t s) noexcept {
  slot& sl = slot_at(s);
  sl.ops = nullptr;
  if (++sl.gen == 0) sl.gen = 1;
  free_.push_back(s);  // within capacity (see take_slot)
}

bool timer_store::remove(std::uint32_t s, std::uint32_t gen, timer_kind kind) noexcept {
  if (!active(s, gen, kind)) return false;
  slot& sl = slot_at(s);
  // Inactive before the destructor runs (it may re-enter the store), freed after it (so
  // the buffer cannot be reused under it).
  const slot_ops* ops = std::exchange(sl.ops, nullptr);
  ops->destroy(sl.buf);
  sl.ops = ops;
  free_slot(s);
  --live_;
  if (live_ == 0)
    drop_entries();
  else if (entries_ > 2 * live_ + 1024)
    compact();
  return true;
}

bool timer_store::update(std::uint32_t s, std::uint32_t gen, timer_kind kind, tick when) {
  if (!active(s, gen, kind)) return false;
  slot& sl = slot_at(s);
  if (kind == timer_kind::max) {
    if (when > sl.target) sl.target = when;  // the entry already queued re-arms when reached
  } else if (kind == timer_kind::min && when < sl.target) {
    sl.target = when;
    push(when, s, gen);  // the later entry goes stale
  }
  return true;
}

void timer_store::expire(tick now, flat_queue& q) {
  for (;;) {
    if (!buckets_[0].empty()) {
      fire_bucket_zero(q);
      continue;
    }
    if (occupied_ == 0) return;
    int b = std::countr_zero(occupied_) + 1;
    auto bi = static_cast<std::size_t>(b);
    if (bucket_min_[bi] > now) return;
    // Extract bucket b's minimum: its entries all move to lower buckets relative to it.
    last_ = bucket_min_[bi];
    occupied_ &= ~(std::uint64_t{1} << (b - 1));
    std::vector<entry>& from = buckets_[bi];
    // Every lower bucket is empty, so this bucket's entries are the next to fire: fetch
    // their slots now, together, rather than one miss at a time as each one fires.
    if (from.size() <= prefetch_bucket)
      for (const entry& e : from) __builtin_prefetch(&slot_at(e.slot));
    for (const entry& e : from) {
      int nb = bucket_of(e.when);
      buckets_[static_cast<std::size_t>(nb)].push_back(e);
      if (nb != 0) {
        auto& m = bucket_min_[static_cast<std::size_t>(nb)];
        if ((occupied_ >> (nb - 1) & 1u) == 0 || e.when < m) m = e.when;
        occupied_ |= std::uint64_t{1} << (nb - 1);
      }
    }
    from.clear();
  }
}

void timer_store::fire_bucket_zero(flat_queue& q) {
  // Every entry here is due at last_; they fire in insertion order.
  firing_.swap(buckets_[0]);
  if (firing_.size() > 1)
    std::sort(firing_.begin(), firing_.end(),
              [](const entry& a, const entry& b) { return a.seq < b.seq; });
  const std::size_t n = firing_.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i + ahead < n) __builtin_prefetch(&slot_at(firing_[i + ahead].slot));
    const entry e = firing_[i];
    --entries_;
    slot& sl = slot_at(e.slot);
    if (sl.gen != e.gen || sl.ops == nullptr) continue;  // deleted
    if (sl.kind == timer_kind::max && sl.target > e.when) {
      push(sl.target, e.seq, e.slot, e.gen);  // pushed later since it was set: re-arm
      continue;
    }
    if (sl.kind == timer_kind::min && sl.target != e.when) continue;  // superseded
    const slot_ops* ops = std::exchange(sl.ops, nullptr);
    ops->fire(sl.buf, q);
    sl.ops = ops;
    free_slot(e.slot);
    --live_;
  }
  firing_.clear();
}

bool timer_store::next(tick& when) const noexcept {
  if (live_ == 0) return false;
  if (!buckets_[0].empty()) {
    when = last_;
    return true;
  }
  if (occupied_ == 0) return false;
  when = bucket_min_[static_cast<std::size_t>(std::countr_zero(occupied_) + 1)];
  return true;
}

void timer_store::compact() {
  occupied_ = 0;
  entries_ = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    auto& v = buckets_[b];
    // Keeps the live entries in order (as std::erase_if would), prefetching slots ahead.
    const std::size_t n = v.size();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (i + ahead < n) __builtin_prefetch(&slot_at(v[i + ahead].slot));
      const entry e = v[i];
      const slot& sl = slot_at(e.slot);
      if (sl.gen != e.gen || sl.ops == nullptr ||
          (sl.kind == timer_kind::min && sl.target != e.when))
        continue;
      v[kept++] = e;
    }
    v.resize(kept);
    entries_ += v.size();
    if (b == 0 || v.empty()) continue;
    tick m = no_tick;
    for (const entry& e : v) m = std::min(m, e.when);
    bucket_min_[b] = m;
    occupied_ |= std::uint64_t{1} << (b - 1);
  }
}

void timer_store::clear() noexcept {
  // A destructor may add timers (rare, but allowed): repeat until none are left.
  for (int round = 0; round < 100 && live_ > 0; ++round) {
    for (std::uint32_t s = 0; s < slot_count_; ++s) {
      slot& sl = slot_at(s);
      if (sl.ops == nullptr) continue;
      const slot_ops* ops = std::exchange(sl.ops, nullptr);
      ops->destroy(sl.buf);
      sl.ops = ops;
      free_slot(s);
      --live_;
    }
  }
  drop_entries();
}

void timer_store::drop_entries() noexcept {
  for (auto& b : buckets_) b.clear();
  occupied_ = 0;
  entries_ = 0;
}

}  // namespace stakker::detail
