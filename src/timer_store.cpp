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

timer_store::~timer_store() {
  clear();
  while (pool_ != nullptr) ::operator delete(std::exchange(pool_, pool_->next));
}

int timer_store::bucket_of(tick when) const noexcept {
  return static_cast<int>(std::bit_width(when ^ last_));
}

void timer_store::grow_pool(std::size_t n) {
  while (pool_count_ < n) {
    auto* k = static_cast<block*>(::operator new(sizeof(block)));
    k->next = pool_;
    pool_ = k;
    ++pool_count_;
    ++blocks_;
  }
}

void timer_store::release_block(block* k) noexcept {
  k->next = pool_;
  pool_ = k;
  ++pool_count_;
}

void timer_store::append(int b, const entry& e) noexcept {
  block*& head = buckets_[static_cast<std::size_t>(b)];
  block* k = head;
  if (k == nullptr || k->count == block_entries) [[unlikely]] {
    k = pool_;  // never empty here (callers grow the pool first)
    pool_ = k->next;
    --pool_count_;
    peak_used_ = std::max(peak_used_, blocks_ - pool_count_);
    k->next = head;
    k->count = 0;
    head = k;
  }
  k->e[k->count++] = e;
}

void timer_store::push(tick when, std::uint64_t seq, std::uint32_t s, std::uint32_t gen) {
  int b = bucket_of(when);
  append(b, entry{when, seq, s, gen});
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
  if (fresh_ < slot_count_) return fresh_++;
  if (slot_count_ == chunks_.size() * chunk_slots) {
    if (slot_count_ >= no_slot - chunk_slots) throw std::length_error("stakker: too many timers");
    chunks_.reserve(chunks_.size() + 1);
    free_.reserve(chunks_.size() * chunk_slots + chunk_slots);  // free_slot never allocates
    chunks_.push_back(std::make_unique<slot[]>(chunk_slots));
  }
  fresh_ = ++slot_count_;
  return slot_count_ - 1;
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
    if (pool_ == nullptr) grow_pool(1);
    sl.target = when;
    push(when, s, gen);  // the later entry goes stale
  }
  return true;
}

void timer_store::expire(tick now, flat_queue& q) {
  for (;;) {
    if (firing_pos_ < firing_.size() || buckets_[0] != nullptr) {
      fire_bucket_zero(q);
      continue;
    }
    if (occupied_ == 0) return;
    int b = std::countr_zero(occupied_) + 1;
    auto bi = static_cast<std::size_t>(b);
    if (bucket_min_[bi] > now) return;
    // Moving the entries down takes at most one new block per lower bucket beyond the
    // blocks it frees: have them before changing anything.
    grow_pool(std::min(static_cast<std::size_t>(b), entries_) + 1);
    // Extract bucket b's minimum: its entries all move to lower buckets relative to it.
    last_ = bucket_min_[bi];
    occupied_ &= ~(std::uint64_t{1} << (b - 1));
    block* k = std::exchange(buckets_[bi], nullptr);
    // Every lower bucket is empty, so this bucket's entries are the next to fire: fetch
    // their slots now, together, rather than one miss at a time as each one fires.
    if (k->next == nullptr || (k->next->next == nullptr && k->count + k->next->count <= prefetch_bucket))
      for (block* p = k; p != nullptr; p = p->next)
        for (std::uint32_t i = 0; i < p->count; ++i) __builtin_prefetch(&slot_at(p->e[i].slot));
    while (k != nullptr) {
      for (std::uint32_t i = 0; i < k->count; ++i) {
        const entry& e = k->e[i];
        int nb = bucket_of(e.when);
        append(nb, e);
        if (nb != 0) {
          auto& m = bucket_min_[static_cast<std::size_t>(nb)];
          if ((occupied_ >> (nb - 1) & 1u) == 0 || e.when < m) m = e.when;
          occupied_ |= std::uint64_t{1} << (nb - 1);
        }
      }
      release_block(std::exchange(k, k->next));
    }
  }
}

bool timer_store::fire_one(const entry& e, flat_queue& q) {
  slot& sl = slot_at(e.slot);
  if (sl.gen != e.gen || sl.ops == nullptr) return true;  // deleted
  if (sl.kind == timer_kind::max && sl.target > e.when) {
    if (pool_ == nullptr) grow_pool(1);
    --entries_;
    push(sl.target, e.seq, e.slot, e.gen);  // pushed later since it was set: re-arm
    return false;
  }
  if (sl.kind == timer_kind::min && sl.target != e.when) return true;  // superseded
  {
    // Inactive while its closure moves (it may re-enter the store); if the move throws,
    // the timer is still pending and its entry is where it was.
    struct put_back {
      slot& sl;
      const slot_ops* ops;
      ~put_back() { sl.ops = ops; }
    } guard{sl, std::exchange(sl.ops, nullptr)};
    guard.ops->fire(sl.buf, q);
  }
  free_slot(e.slot);
  if (--live_ == 0) {
    fresh_ = 0;  // every slot is free: hand them out in order again
    free_.clear();
  }
  return true;
}

void timer_store::fire_bucket_zero(flat_queue& q) {
  // Every entry here is due at last_; they fire in insertion order.
  block* k = buckets_[0];
  if (firing_pos_ == firing_.size() && k->count == 1 && k->next == nullptr) {
    // One entry (timers rarely share a nanosecond): no copy, no sort.
    if (fire_one(k->e[0], q)) --entries_;
    buckets_[0] = nullptr;
    release_block(k);
    return;
  }
  if (firing_pos_ == firing_.size()) {
    firing_.clear();
    firing_pos_ = 0;
    for (; k != nullptr; k = k->next)
      firing_.insert(firing_.end(), k->e, k->e + k->count);  // may throw: nothing moved yet
    for (k = std::exchange(buckets_[0], nullptr); k != nullptr;)
      release_block(std::exchange(k, k->next));
    if (firing_.size() > 1)
      std::sort(firing_.begin(), firing_.end(),
                [](const entry& a, const entry& b) { return a.seq < b.seq; });
  }
  const std::size_t n = firing_.size();
  while (firing_pos_ < n) {
    const std::size_t i = firing_pos_;
    if (i + ahead < n) __builtin_prefetch(&slot_at(firing_[i + ahead].slot));
    if (fire_one(firing_[i], q)) --entries_;
    ++firing_pos_;
  }
}

bool timer_store::next(tick& when) const noexcept {
  if (live_ == 0) return false;
  if (firing_pos_ < firing_.size() || buckets_[0] != nullptr) {
    when = last_;
    return true;
  }
  if (occupied_ == 0) return false;
  when = bucket_min_[static_cast<std::size_t>(std::countr_zero(occupied_) + 1)];
  return true;
}

void timer_store::compact() {
  auto stale = [this](const entry& e) {
    const slot& sl = slot_at(e.slot);
    return sl.gen != e.gen || sl.ops == nullptr ||
           (sl.kind == timer_kind::min && sl.target != e.when);
  };
  occupied_ = 0;
  entries_ = firing_.size() - firing_pos_;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    // Keeps the live entries in order, packed into the first blocks of the chain, and
    // prefetches slots a few entries ahead (the next block's first ones at its end).
    block* w = buckets_[b];
    std::uint32_t wi = 0;
    tick m = no_tick;
    std::size_t kept = 0;
    for (block* r = buckets_[b]; r != nullptr; r = r->next) {
      const std::uint32_t n = r->count;
      for (std::uint32_t i = 0; i < n; ++i) {
        if (i + ahead < n)
          __builtin_prefetch(&slot_at(r->e[i + ahead].slot));
        else if (r->next != nullptr && i + ahead - n < r->next->count)
          __builtin_prefetch(&slot_at(r->next->e[i + ahead - n].slot));
        const entry e = r->e[i];
        if (stale(e)) continue;
        if (wi == block_entries) {
          w->count = wi;
          w = w->next;
          wi = 0;
        }
        w->e[wi++] = e;
        m = std::min(m, e.when);
        ++kept;
      }
    }
    if (kept == 0) {
      for (block* k = std::exchange(buckets_[b], nullptr); k != nullptr;)
        release_block(std::exchange(k, k->next));
      continue;
    }
    w->count = wi;
    for (block* k = std::exchange(w->next, nullptr); k != nullptr;)
      release_block(std::exchange(k, k->next));
    entries_ += kept;
    if (b == 0) continue;
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
  for (auto& head : buckets_)
    for (block* k = std::exchange(head, nullptr); k != nullptr;)
      release_block(std::exchange(k, k->next));
  firing_.clear();
  firing_pos_ = 0;
  occupied_ = 0;
  entries_ = 0;
  if (live_ == 0) {
    fresh_ = 0;  // every slot is free: hand them out in order again
    free_.clear();
  }
}

void timer_store::trim() noexcept {
  const std::size_t used = blocks_ - pool_count_;
  const std::size_t keep = peak_used_ > used ? peak_used_ - used : 0;
  while (pool_count_ > keep) {
    ::operator delete(std::exchange(pool_, pool_->next));
    --pool_count_;
    --blocks_;
  }
  peak_used_ = used;
}

}  // namespace stakker::detail
