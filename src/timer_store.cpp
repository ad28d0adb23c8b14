// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/timer_store.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <stdexcept>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace stakker::detail {

namespace {
constexpr tick no_tick = std::numeric_limits<tick>::max();
// Buckets up to this size have their slots prefetched when extracted (they fire next).
constexpr std::size_t prefetch_bucket = 64;
// How far ahead a pass over entries (or the free stack) prefetches slots.
constexpr std::size_t ahead = 8;
// How far ahead firing a run prefetches slots.
constexpr std::size_t run_ahead = 16;
// A bucket found wholly due with at least this many entries fires as a sorted run.
constexpr std::size_t run_min = 128;
// Pieces (and parts of a piece) up to this size are insertion-sorted.
constexpr std::size_t small_piece = 24;
// The run's first split: by up to radix_bits top bits. Then sort_piece splits by 8 bits, at
// most 8 levels deep plus one for a single time, with 257 counts a level.
constexpr int radix_bits = 11;
constexpr std::size_t radix_size = std::size_t{1} << radix_bits;
constexpr std::size_t count_slots = radix_size + 1 + 9 * 257;

// Firing order: by time, then by sequence (insertion, or a max timer's original place).
template <class Entry>
bool fires_before(const Entry& x, const Entry& y) noexcept {
  return x.when < y.when || (x.when == y.when && x.seq < y.seq);
}

// Turns counts[0..n] into where each part starts (an exclusive prefix sum).
void starts_from_counts(std::uint32_t* counts, std::size_t n) noexcept {
  std::uint32_t sum = 0;
  for (std::size_t v = 0; v <= n; ++v) sum += std::exchange(counts[v], sum);
}
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

void timer_store::prefetch_block(const block* k) noexcept {
  if (k == nullptr) return;
  // Blocks of a chain are scattered: fetch the next one's first lines while this one is
  // worked on (the hardware follows on within the block).
  __builtin_prefetch(k);
  __builtin_prefetch(reinterpret_cast<const char*>(k) + 64);
  __builtin_prefetch(reinterpret_cast<const char*>(k) + 128);
}

void timer_store::append(int b, const entry& e) noexcept {
  const auto bi = static_cast<std::size_t>(b);
  ++bucket_size_[bi];
  block* k = tails_[bi];
  if (k == nullptr || k->count == block_entries) [[unlikely]] {
    block* t = k;
    k = pool_;  // never empty here (callers grow the pool first)
    pool_ = k->next;
    --pool_count_;
    peak_used_ = std::max(peak_used_, blocks_ - pool_count_);
    k->next = nullptr;
    k->count = 0;
    (t != nullptr ? t->next : buckets_[bi]) = k;
    tails_[bi] = k;
  }
  k->e[k->count++] = e;
}

void timer_store::release_chain(std::size_t b) noexcept {
  block* head = std::exchange(buckets_[b], nullptr);
  block* tail = std::exchange(tails_[b], nullptr);
  if (head != nullptr) {
    // Every block but the tail is full: no need to walk the chain.
    tail->next = pool_;
    pool_ = head;
    pool_count_ += (bucket_size_[b] + block_entries - 1) / block_entries;
  }
  bucket_size_[b] = 0;
}

void timer_store::note(int b, tick when) noexcept {
  if (b == 0) return;
  const auto bi = static_cast<std::size_t>(b);
  const std::uint64_t bit = std::uint64_t{1} << (b - 1);
  if ((occupied_ & bit) == 0) {
    bucket_min_[bi] = bucket_max_[bi] = when;
    occupied_ |= bit;
  } else {
    bucket_min_[bi] = std::min(bucket_min_[bi], when);
    bucket_max_[bi] = std::max(bucket_max_[bi], when);
  }
}

void timer_store::push(tick when, std::uint64_t seq, std::uint32_t s, std::uint32_t gen) {
  int b = bucket_of(when);
  append(b, entry{when, seq, s, gen});
  note(b, when);
  ++entries_;
}

void timer_store::slab_delete::operator()(void* p) const noexcept {
  ::operator delete (p, std::align_val_t{slab_bytes});
}

void timer_store::add_chunk() {
  static_assert(std::is_trivially_destructible_v<slot>);  // slab chunks are never destroyed
  chunks_.reserve(chunks_.size() + 1);
  const std::size_t c = chunks_.size();
  if (c < small_chunks) {
    small_.reserve(small_chunks);
    small_.push_back(std::make_unique<slot[]>(chunk_slots));
    chunks_.push_back(small_.back().get());
    return;
  }
  const std::size_t in_slab = (c - small_chunks) % slab_chunks;
  if (in_slab == 0) {
    slabs_.reserve(slabs_.size() + 1);
    void* p = ::operator new (slab_bytes, std::align_val_t{slab_bytes});
    slabs_.emplace_back(p);
#ifdef MADV_HUGEPAGE
    ::madvise(p, slab_bytes, MADV_HUGEPAGE);  // a hint: without huge pages all still works
#endif
  }
  auto* base = static_cast<slot*>(slabs_.back().get()) + in_slab * chunk_slots;
  for (std::size_t i = 0; i < chunk_slots; ++i) ::new (static_cast<void*>(base + i)) slot{};
  chunks_.push_back(base);
}

std::uint32_t timer_store::take_slot() {
  if (free_count_ > 0) {
    const std::uint32_t s = free_[--free_count_];
    // Slots taken in a burst are scattered (freed in firing order): fetch ahead.
    if (free_count_ > ahead) __builtin_prefetch(&slot_at(free_[free_count_ - ahead]), 1);
    return s;
  }
  if (fresh_ < slot_count_) return fresh_++;
  if (slot_count_ == chunks_.size() * chunk_slots) {
    if (slot_count_ >= no_slot - chunk_slots) throw std::length_error("stakker: too many timers");
    free_.resize(chunks_.size() * chunk_slots + chunk_slots);  // a push never allocates
    add_chunk();
  }
  fresh_ = ++slot_count_;
  return slot_count_ - 1;
}

bool timer_store::update(std::uint32_t s, std::uint32_t gen, timer_kind kind, tick when) {
  if (!active(s, gen, kind)) return false;
  slot& sl = slot_at(s);
  if (kind == timer_kind::max) {
    if (when > sl.target) sl.target = when;  // the entry already queued re-arms when reached
  } else if (kind == timer_kind::min && when < sl.target) {
    lower_min(s, gen, when);
  }
  return true;
}

void timer_store::lower_min(std::uint32_t s, std::uint32_t gen, tick when) {
  compact_if_stale();
  if (pool_ == nullptr) grow_pool(1);
  slot_at(s).target = when;
  push(when, s, gen);  // the later entry goes stale
}

void timer_store::expire(tick now, flat_queue& q) {
  struct expiring {
    bool& e;
    ~expiring() { e = false; }
  } guard{expiring_};
  expiring_ = true;
  for (;;) {
    if (run_pos_ < run_len_) {
      fire_run(q);
      continue;
    }
    if (block* k = buckets_[0]) {
      // Due at last_. One entry (timers rarely share a nanosecond): no copy, no sort.
      if (k->count == 1 && k->next == nullptr) {
        const entry e = k->e[0];
        const tick target = fire_one(e, q);
        buckets_[0] = tails_[0] = nullptr;
        bucket_size_[0] = 0;
        release_block(k);
        --entries_;
        if (target != 0) push(target, e.seq, e.slot, e.gen);  // pool: has k again
      } else {
        take_run(0);
      }
      continue;
    }
    if (occupied_ == 0) return;
    int b = std::countr_zero(occupied_) + 1;
    auto bi = static_cast<std::size_t>(b);
    if (bucket_min_[bi] > now) return;
    block* k = buckets_[bi];
    const std::size_t n = bucket_size_[bi];
    if (bucket_max_[bi] <= now && n >= run_min) {
      // All due: sorting it beats splitting it bucket by bucket.
      take_run(b);
      continue;
    }
    // Moving the entries down takes at most one new block per lower bucket beyond the
    // blocks it frees: have them before changing anything.
    grow_pool(std::min(static_cast<std::size_t>(b), entries_) + 1);
    // Extract bucket b's minimum: its entries all move to lower buckets relative to it.
    last_ = bucket_min_[bi];
    occupied_ &= ~(std::uint64_t{1} << (b - 1));
    buckets_[bi] = tails_[bi] = nullptr;
    bucket_size_[bi] = 0;
    // Every lower bucket is empty, so this bucket's entries are the next to fire: fetch
    // their slots now, together, rather than one miss at a time as each one fires.
    if (n <= prefetch_bucket)
      for (block* p = k; p != nullptr; p = p->next)
        for (std::uint32_t i = 0; i < p->count; ++i) __builtin_prefetch(&slot_at(p->e[i].slot));
    while (k != nullptr) {
      prefetch_block(k->next);
      for (std::uint32_t i = 0; i < k->count; ++i) {
        const entry& e = k->e[i];
        int nb = bucket_of(e.when);
        append(nb, e);
        note(nb, e.when);
      }
      release_block(std::exchange(k, k->next));
    }
  }
}

tick timer_store::fire_one(const entry& e, flat_queue& q) {
  slot& sl = slot_at(e.slot);
  if (sl.gen != e.gen || sl.manage == nullptr) return 0;  // deleted
  if (sl.kind == timer_kind::max && sl.target > e.when) {
    if (pool_ == nullptr) grow_pool(1);  // the caller may push it
    return sl.target;                    // pushed later since it was set: re-arm
  }
  if (sl.kind == timer_kind::min && sl.target != e.when) return 0;  // superseded
  {
    // Inactive while its closure moves (it may re-enter the store); if the move throws,
    // the timer is still pending and its entry is where it was.
    struct put_back {
      slot& sl;
      slot_manager m;
      ~put_back() { sl.manage = m; }
    } guard{sl, std::exchange(sl.manage, nullptr)};
    guard.m(sl.buf, &q);
  }
  free_slot(e.slot);
  if (--live_ == 0) {
    fresh_ = 0;  // every slot is free: hand them out in order again
    free_count_ = 0;
  }
  return 0;
}

void timer_store::reserve_run(std::size_t n) {
  if (counts_ == nullptr) counts_ = std::make_unique<std::uint32_t[]>(count_slots);
  if (run_cap_ >= n) return;
  // Both before either is replaced: a throw leaves the old ones.
  auto a = std::make_unique_for_overwrite<entry[]>(n);
  auto b = std::make_unique_for_overwrite<entry[]>(n);
  run_ = std::move(a);
  run_spare_ = std::move(b);
  run_cap_ = n;
}

void timer_store::sort_piece(entry* p, entry* spare, std::size_t m,
                             std::uint32_t* counts) noexcept {
  if (m <= small_piece) {  // insertion sort, by (when, seq)
    for (std::size_t i = 1; i < m; ++i) {
      const entry e = p[i];
      std::size_t j = i;
      for (; j > 0 && fires_before(e, p[j - 1]); --j) p[j] = p[j - 1];
      p[j] = e;
    }
    return;
  }
  // Split by the top 8 bits of the piece's own range into `spare` (stable); sort there each
  // part too big for an insertion sort (with p as its spare); then copy back with an
  // insertion sort: the parts are in order, so each entry only moves within its own small
  // part (a few places), and one that is in order costs one comparison. Equal times end up in
  // one part, down to a part of one time or one small enough for the insertion sort: both
  // order ties by sequence.
  tick lo = p[0].when;
  tick hi = lo;
  for (std::size_t i = 1; i < m; ++i) {
    lo = std::min(lo, p[i].when);
    hi = std::max(hi, p[i].when);
  }
  if (lo == hi) {  // one time: in insertion order, unless a re-armed max timer came later
    auto by_seq = [](const entry& x, const entry& y) { return x.seq < y.seq; };
    if (!std::is_sorted(p, p + m, by_seq)) std::sort(p, p + m, by_seq);
    return;
  }
  const int bits = static_cast<int>(std::bit_width(hi - lo));
  const int shift = bits > 8 ? bits - 8 : 0;
  std::fill(counts, counts + 257, 0u);
  for (std::size_t i = 0; i < m; ++i) ++counts[(p[i].when - lo) >> shift];
  starts_from_counts(counts, 256);
  for (std::size_t i = 0; i < m; ++i) spare[counts[(p[i].when - lo) >> shift]++] = p[i];
  std::size_t start = 0;
  for (std::size_t v = 0; v < 256 && start < m; ++v) {
    const std::size_t end = counts[v];
    if (end - start > small_piece) sort_piece(spare + start, p + start, end - start, counts + 257);
    start = end;
  }
  p[0] = spare[0];
  for (std::size_t i = 1; i < m; ++i) {
    const entry e = spare[i];
    std::size_t j = i;
    for (; j > 0 && fires_before(e, p[j - 1]); --j) p[j] = p[j - 1];
    p[j] = e;
  }
}

void timer_store::take_run(int b) {
  const auto bi = static_cast<std::size_t>(b);
  const std::size_t n = bucket_size_[bi];
  reserve_run(n);
  block* k = std::exchange(buckets_[bi], nullptr);
  tails_[bi] = nullptr;
  bucket_size_[bi] = 0;
  const tick lo = b == 0 ? last_ : bucket_min_[bi];
  const int bits = b == 0 ? 0 : static_cast<int>(std::bit_width(bucket_max_[bi] - lo));
  if (b != 0) {
    occupied_ &= ~(std::uint64_t{1} << (b - 1));
    // Entries pushed while the run fires (max timers re-armed past it) are placed relative
    // to its first time: valid for the buckets above too, as for any extraction.
    last_ = lo;
  }
  entry* out = run_.get();
  // MSD radix sort on (when - lo): one pass out of the blocks (handing each back as it is
  // done) splits the run by its top bits into pieces of a few hundred entries, each then
  // sorted in cache by sort_piece (8-bit digits, recursively, with the spare buffer).
  const int top_bits =
      std::min({bits, radix_bits, std::max(1, static_cast<int>(std::bit_width(n >> 8)))});
  const int top_shift = bits - top_bits;
  std::uint32_t* counts = counts_.get();
  const std::size_t top_size = std::size_t{1} << top_bits;
  std::fill(counts, counts + top_size + 1, 0u);
  for (block* p = k; p != nullptr; p = p->next) {
    prefetch_block(p->next);
    for (std::uint32_t i = 0; i < p->count; ++i) ++counts[(p->e[i].when - lo) >> top_shift];
  }
  starts_from_counts(counts, top_size);
  // counts[v] is now where piece v starts; scattering moves it to where piece v+1 starts.
  while (k != nullptr) {
    prefetch_block(k->next);
    for (std::uint32_t i = 0; i < k->count; ++i) {
      const entry& e = k->e[i];
      out[counts[(e.when - lo) >> top_shift]++] = e;
    }
    release_block(std::exchange(k, k->next));
  }
  std::uint32_t* lc = counts + radix_size + 1;  // the pieces' digit counts
  entry* spare = run_spare_.get();
  std::size_t start = 0;
  for (std::size_t v = 0; v < top_size; ++v) {
    const std::size_t end = counts[v];
    sort_piece(out + start, spare + start, end - start, lc);
    start = end;
  }
  run_len_ = n;
  run_pos_ = 0;
  peak_run_ = std::max(peak_run_, n);
}

void timer_store::fire_run(flat_queue& q) {
  entry* r = run_.get();
  while (run_pos_ < run_len_) {
    const std::size_t i = run_pos_;
    if (i + run_ahead < run_len_) __builtin_prefetch(&slot_at(r[i + run_ahead].slot));
    const entry e = r[i];
    const tick target = fire_one(e, q);
    if (target == 0) {
      ++run_pos_;
      --entries_;
    } else if (target > r[run_len_ - 1].when) {
      ++run_pos_;
      --entries_;
      push(target, e.seq, e.slot, e.gen);
    } else {
      // Re-armed within the run: move it to its place (the entries before move up one).
      const entry moved{target, e.seq, e.slot, e.gen};
      entry* at = std::upper_bound(r + i + 1, r + run_len_, moved, fires_before<entry>);
      std::move(r + i + 1, at, r + i);
      *(at - 1) = moved;
    }
  }
}

bool timer_store::next(tick& when) const noexcept {
  if (live_ == 0) return false;
  if (run_pos_ < run_len_) {
    when = run_[run_pos_].when;
    return true;
  }
  if (buckets_[0] != nullptr) {
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
    return sl.gen != e.gen || sl.manage == nullptr ||
           (sl.kind == timer_kind::min && sl.target != e.when);
  };
  occupied_ = 0;
  entries_ = run_len_ - run_pos_;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    // Keeps the live entries in order, packed into the first blocks of the chain (so all
    // but the last are full), and prefetches slots a few entries ahead.
    block* w = buckets_[b];
    std::uint32_t wi = 0;
    tick m = no_tick;
    tick mx = 0;
    std::size_t kept = 0;
    for (block* r = buckets_[b]; r != nullptr; r = r->next) {
      prefetch_block(r->next);
      const std::uint32_t n = r->count;
      for (std::uint32_t i = 0; i < n && i < ahead; ++i) __builtin_prefetch(&slot_at(r->e[i].slot));
      for (std::uint32_t i = 0; i < n; ++i) {
        if (i + ahead < n) __builtin_prefetch(&slot_at(r->e[i + ahead].slot));
        const entry e = r->e[i];
        if (stale(e)) continue;
        if (wi == block_entries) {
          w->count = wi;
          w = w->next;
          wi = 0;
        }
        w->e[wi++] = e;
        m = std::min(m, e.when);
        mx = std::max(mx, e.when);
        ++kept;
      }
    }
    if (kept == 0) {
      release_chain(b);
      continue;
    }
    w->count = wi;
    tails_[b] = w;
    for (block* k = std::exchange(w->next, nullptr); k != nullptr;)
      release_block(std::exchange(k, k->next));
    entries_ += kept;
    bucket_size_[b] = kept;
    if (b == 0) continue;
    bucket_min_[b] = m;
    bucket_max_[b] = mx;
    occupied_ |= std::uint64_t{1} << (b - 1);
  }
}

void timer_store::clear() noexcept {
  // A destructor may add timers (rare, but allowed): repeat until none are left.
  for (int round = 0; round < 100 && live_ > 0; ++round) {
    for (std::uint32_t s = 0; s < slot_count_; ++s) {
      slot& sl = slot_at(s);
      if (sl.manage == nullptr) continue;
      const slot_manager m = std::exchange(sl.manage, nullptr);
      m(sl.buf, nullptr);
      sl.manage = m;
      free_slot(s);
      --live_;
    }
  }
  drop_entries();
}

void timer_store::drop_entries() noexcept {
  for (std::size_t b = 0; b < buckets_.size(); ++b) release_chain(b);
  run_len_ = run_pos_ = 0;
  occupied_ = 0;
  entries_ = 0;
  if (live_ == 0) {
    fresh_ = 0;  // every slot is free: hand them out in order again
    free_count_ = 0;
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
  if (run_pos_ == run_len_ && peak_run_ <= run_cap_ / 2) {
    run_.reset();
    run_spare_.reset();
    counts_.reset();
    run_cap_ = 0;
  }
  peak_run_ = 0;
}

}  // namespace stakker::detail
