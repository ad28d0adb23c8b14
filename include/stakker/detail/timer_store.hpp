// SPDX-License-Identifier: MIT OR Apache-2.0
// The runtime's timers: a radix heap of (time, sequence, slot) entries and a slot table that
// holds each timer's closure, generation and kind.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "stakker/detail/flat_queue.hpp"
#include "stakker/export.hpp"

namespace stakker::detail {

enum class timer_kind : std::uint8_t { fixed, max, min };

// Time inside the store: nanoseconds since the runtime started. Only ever compared.
using tick = std::uint64_t;

// A radix heap, valid because time only moves forward: every key inserted is at least the
// last key extracted, so an entry lives in the bucket of the highest bit in which it differs
// from that key, and buckets are ordered (all of bucket i < all of bucket j for i < j).
// Inserting is O(1); each entry moves down at most 64 times in its life (a few times for
// realistic spreads). Entries are 24 bytes and trivially copyable, so the moves are cheap
// and sequential; the closures stay put in the slot table, where firing prefetches them.
//
// A deleted timer's closure is destroyed at once; its heap entry stays behind as a stale
// record (wrong generation) until it is reached or a compaction drops it.
class STAKKER_EXPORT timer_store {
 public:
  static constexpr std::size_t inline_bytes = 40;

  struct slot_ops {
    // Moves the closure at `buf` onto `q` and destroys the original.
    void (*fire)(void* buf, flat_queue& q);
    void (*destroy)(void* buf) noexcept;
  };

  timer_store() = default;
  timer_store(const timer_store&) = delete;
  timer_store& operator=(const timer_store&) = delete;
  ~timer_store() { clear(); }

  // Adds a timer firing at `when` (already clamped to after now); returns its slot and
  // generation.
  template <class F>
  std::pair<std::uint32_t, std::uint32_t> add(timer_kind kind, tick when, F&& f) {
    using fn = std::decay_t<F>;
    std::uint32_t s = take_slot();
    slot& sl = slot_at(s);
    if constexpr (sizeof(fn) <= inline_bytes && alignof(fn) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<fn>) {
      ::new (static_cast<void*>(sl.buf)) fn(std::forward<F>(f));
      sl.ops = &inline_ops<fn>;
    } else {
      ::new (static_cast<void*>(sl.buf)) boxed<fn>{std::make_unique<fn>(std::forward<F>(f))};
      sl.ops = &inline_ops<boxed<fn>>;
    }
    sl.kind = kind;
    sl.target = when;
    push(when, s, sl.gen);
    ++live_;
    return {s, sl.gen};
  }

  // Whether the timer (slot, gen) of `kind` is still pending.
  bool active(std::uint32_t s, std::uint32_t gen, timer_kind kind) const noexcept {
    if (s >= slot_count_) return false;
    const slot& sl = slot_at(s);
    return sl.gen == gen && sl.ops != nullptr && sl.kind == kind;
  }
  // Deletes a pending timer, destroying its closure now. False for a stale key.
  bool remove(std::uint32_t s, std::uint32_t gen, timer_kind kind) noexcept;
  // Max timers: raise the target (later only). Min timers: lower it (earlier only; inserts
  // a new entry, the old one goes stale). False for a stale key.
  bool update(std::uint32_t s, std::uint32_t gen, timer_kind kind, tick when);

  // Moves every timer due at or before `now` onto `q`, in (time, insertion) order.
  void expire(tick now, flat_queue& q);

  // The earliest time an entry may be due (possibly a stale one: a spurious wake-up at
  // worst, never a late one); false if there is no entry.
  bool next(tick& when) const noexcept;

  std::size_t size() const noexcept { return live_; }
  // No entry at all, stale ones included: expire would find nothing to do.
  bool empty() const noexcept { return entries_ == 0; }

  // Destroys every pending closure (the runtime is going away).
  void clear() noexcept;

 private:
  struct entry {
    tick when;
    std::uint64_t seq;
    std::uint32_t slot;
    std::uint32_t gen;
  };
  // One cache line: firing, deleting and re-arming touch one line per timer.
  struct alignas(64) slot {
    alignas(std::max_align_t) std::byte buf[inline_bytes];
    const slot_ops* ops = nullptr;  // null: free
    tick target = 0;                // max/min: the time the timer is due
    std::uint32_t gen = 1;          // bumped when the slot is freed; 0 is never valid
    timer_kind kind = timer_kind::fixed;
  };
  static_assert(sizeof(slot) == 64);
  static constexpr int bucket_count = 65;
  static constexpr std::uint32_t no_slot = 0xffffffffu;

  template <class F>
  struct boxed {
    std::unique_ptr<F> f;
    void operator()(core& c) { (*f)(c); }
  };
  template <class F>
  static constexpr slot_ops inline_ops{
      [](void* buf, flat_queue& q) {
        F* f = std::launder(static_cast<F*>(buf));
        q.push(std::move(*f));
        f->~F();
      },
      [](void* buf) noexcept { std::launder(static_cast<F*>(buf))->~F(); }};

  static constexpr std::uint32_t chunk_slots = 1024;  // slots never move: closures stay put
  slot& slot_at(std::uint32_t s) noexcept { return chunks_[s / chunk_slots][s % chunk_slots]; }
  const slot& slot_at(std::uint32_t s) const noexcept {
    return chunks_[s / chunk_slots][s % chunk_slots];
  }
  int bucket_of(tick when) const noexcept;
  void push(tick when, std::uint32_t s, std::uint32_t gen) { push(when, seq_++, s, gen); }
  // With a given sequence: a max timer re-armed later keeps its place among equal times.
  void push(tick when, std::uint64_t seq, std::uint32_t s, std::uint32_t gen);
  std::uint32_t take_slot();
  void free_slot(std::uint32_t s) noexcept;
  void fire_bucket_zero(flat_queue& q);
  void compact();
  void drop_entries() noexcept;  // every entry is stale

  std::array<std::vector<entry>, bucket_count> buckets_;
  std::array<tick, bucket_count> bucket_min_{};
  std::uint64_t occupied_ = 0;  // bit i: bucket i+1 non-empty (bucket 0 checked directly)
  tick last_ = 0;               // the last key extracted
  std::uint64_t seq_ = 0;
  std::size_t entries_ = 0;  // heap entries, stale ones included
  std::size_t live_ = 0;     // pending timers
  std::vector<std::unique_ptr<slot[]>> chunks_;
  std::uint32_t slot_count_ = 0;  // slots handed out so far (free ones included)
  // Free slots, last freed on top. A stack rather than a list threaded through the slots,
  // so taking a slot does not wait on a load from the previous one. Its capacity covers
  // every slot, so freeing never allocates.
  std::vector<std::uint32_t> free_;
  std::vector<entry> firing_;  // scratch for bucket 0
};

}  // namespace stakker::detail
