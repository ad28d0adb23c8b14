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
// Inserting is O(1); each entry moves down at most 64 times in its life. Entries are 24
// bytes and trivially copyable, kept in chains of 1 KB blocks recycled through a pool; the
// closures stay put in the slot table, where firing prefetches them. A bucket found wholly
// due with many entries is not split further but taken out at once and radix-sorted into a
// run that fires in order (a burst of timers all due by the next run, in virtual time or
// after a long sleep, costs a sort rather than a cascade of moves).
//
// A deleted timer's closure is destroyed at once; its heap entry stays behind as a stale
// record (wrong generation) until it is reached or a compaction drops it.
class STAKKER_EXPORT timer_store {
 public:
  static constexpr std::size_t inline_bytes = 40;

  // A slot's closure is handled by one function of its type, kept in the slot: with a
  // queue it moves the closure at `buf` onto it and destroys the original (if the move
  // throws, the original is left as it was); with none it destroys it. One function rather
  // than a table of two, so that a delete calls through the pointer it has just read from
  // the slot, without first loading from a table (docs/performance.md, timers, round four).
  using slot_manager = void (*)(void* buf, flat_queue* q);

  timer_store() = default;
  timer_store(const timer_store&) = delete;
  timer_store& operator=(const timer_store&) = delete;
  ~timer_store();

  // Adds a timer firing at `when` (already clamped to after now); returns its slot and
  // generation.
  template <class F>
  std::pair<std::uint32_t, std::uint32_t> add(timer_kind kind, tick when, F&& f) {
    using fn = std::decay_t<F>;
    compact_if_stale();
    if (pool_ == nullptr) grow_pool(1);  // push below takes a block without allocating
    std::uint32_t s = take_slot();
    slot& sl = slot_at(s);
    if constexpr (sizeof(fn) <= inline_bytes && alignof(fn) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<fn>) {
      ::new (static_cast<void*>(sl.buf)) fn(std::forward<F>(f));
      sl.manage = &manage<fn>;
    } else {
      ::new (static_cast<void*>(sl.buf)) boxed<fn>{std::make_unique<fn>(std::forward<F>(f))};
      sl.manage = &manage<boxed<fn>>;
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
    return sl.gen == gen && sl.manage != nullptr && sl.kind == kind;
  }
  // Deletes a pending timer, destroying its closure now. False for a stale key. Inline: a
  // delete is one likely cache miss on its slot, and in the caller's loop the next deletes'
  // misses overlap it (random-order deletes of 1M timers 71.5 -> 56.5 ns against an
  // out-of-line call).
  bool remove(std::uint32_t s, std::uint32_t gen, timer_kind kind) noexcept {
    if (!active(s, gen, kind)) return false;
    slot& sl = slot_at(s);
    // Inactive and its key dead before the destructor runs (it may re-enter the store);
    // freed and counted out after it, so that its buffer cannot be reused under it (and a
    // delete inside the destructor cannot find the store empty and reset the free slots).
    const slot_manager m = std::exchange(sl.manage, nullptr);
    sl.gen = next_gen(gen);
    m(sl.buf, nullptr);
    free_[free_count_++] = s;
    if (--live_ == 0) drop_entries();  // stale entries otherwise wait for the next add
    return true;
  }
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

  // Memory policy: entry blocks are recycled through a pool, so a store that fills and
  // drains again (a burst of timers every few seconds) reuses the same memory and faults in
  // no pages. `trim` (the runtime calls it every 60 s of its time, with its queues') frees
  // the spare blocks beyond the most the store used since the previous trim: capacity
  // needed in the last period is kept, and given back after a whole period without need.
  void trim() noexcept;
  // Bytes held in entry blocks, in use or spare (not counting the slot table).
  std::size_t entry_capacity() const noexcept { return blocks_ * sizeof(block); }
  // Heap entries, the stale ones of deleted and moved timers included.
  std::size_t entry_count() const noexcept { return entries_; }

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
    slot_manager manage = nullptr;  // null: free
    tick target = 0;                // max/min: the time the timer is due
    std::uint32_t gen = 1;          // bumped when the slot is freed; 0 is never valid
    timer_kind kind = timer_kind::fixed;
  };
  static_assert(sizeof(slot) == 64);
  // A bucket is a chain of blocks, oldest first (entries in insertion order, so walks over
  // them touch slots in the order they were handed out). Blocks come from and
  // go back to a pool shared by all buckets, so moving entries between buckets or draining
  // the store frees and allocates nothing.
  static constexpr std::size_t block_bytes = 1024;
  static constexpr std::uint32_t block_entries =
      static_cast<std::uint32_t>((block_bytes - 2 * sizeof(void*)) / sizeof(entry));
  struct block {
    block* next;  // older block of the same bucket, or the next block of the pool
    std::uint32_t count;
    entry e[block_entries];
  };
  static_assert(sizeof(block) <= block_bytes);
  static constexpr int bucket_count = 65;
  static constexpr std::uint32_t no_slot = 0xffffffffu;

  template <class F>
  struct boxed {
    std::unique_ptr<F> f;
    void operator()(core& c) { (*f)(c); }
  };
  // The destroy path first and alone: it then needs no stack frame of its own.
  template <class F>
  static void manage(void* buf, flat_queue* q) {
    F* f = std::launder(static_cast<F*>(buf));
    if (q == nullptr) [[likely]] {
      f->~F();
      return;
    }
    fire_into<F>(f, *q);
  }
  template <class F>
  [[gnu::noinline]] static void fire_into(F* f, flat_queue& q) {
    q.push(std::move(*f));
    f->~F();
  }

  static constexpr std::uint32_t chunk_slots = 1024;  // slots never move: closures stay put
  slot& slot_at(std::uint32_t s) noexcept { return chunks_[s / chunk_slots][s % chunk_slots]; }
  const slot& slot_at(std::uint32_t s) const noexcept {
    return chunks_[s / chunk_slots][s % chunk_slots];
  }
  int bucket_of(tick when) const noexcept;
  void push(tick when, std::uint32_t s, std::uint32_t gen) { push(when, seq_++, s, gen); }
  // With a given sequence: a max timer re-armed later keeps its place among equal times.
  void push(tick when, std::uint64_t seq, std::uint32_t s, std::uint32_t gen);
  // Appends to bucket b; the pool must hold a block if the bucket's newest one is full.
  void append(int b, const entry& e) noexcept;
  // Makes the pool hold at least n blocks (allocating: call before changing anything).
  void grow_pool(std::size_t n);
  void release_block(block* k) noexcept;
  void release_chain(std::size_t b) noexcept;  // bucket b's blocks, all at once
  static void prefetch_block(const block* k) noexcept;
  // A min timer brought earlier: out of line, so that update's max path stays a leaf.
  [[gnu::noinline]] void lower_min(std::uint32_t s, std::uint32_t gen, tick when);
  std::uint32_t take_slot();
  void free_slot(std::uint32_t s) noexcept {
    slot& sl = slot_at(s);
    sl.manage = nullptr;
    sl.gen = next_gen(sl.gen);
    free_[free_count_++] = s;
  }
  // A freed slot's generation: 0 is skipped, so that it never matches a key.
  static std::uint32_t next_gen(std::uint32_t g) noexcept { return g + 1 == 0 ? 1 : g + 1; }
  // Fires the timer of entry `e` (due now), or skips it if stale. Returns 0, or for a max
  // timer pushed later since, its new target (not fired; the caller re-queues the entry).
  tick fire_one(const entry& e, flat_queue& q);
  // Records `e` as an entry of bucket b (its minimum and maximum, the occupied bit).
  void note(int b, tick when) noexcept;
  // Makes the run buffers hold n entries (allocating: call before changing anything).
  void reserve_run(std::size_t n);
  // Takes bucket b (every lower one empty, all of it due) out of the heap as the run.
  void take_run(int b);
  // Sorts m entries at p (a piece of a run) by (time, sequence) in cache, using `spare`.
  static void sort_piece(entry* p, entry* spare, std::size_t m, std::uint32_t* counts) noexcept;
  void fire_run(flat_queue& q);
  void compact();
  // Entries are only added by add and by a min timer moved earlier: each first drops the
  // stale entries once they outnumber twice the live ones plus 1024, which bounds the heap
  // (and the work of skipping stale entries) by the live timers. Deleting compacts nothing:
  // a burst of deletes costs no scans of the heap, and deleting the last timer drops every
  // entry at once. Not while expire hands out entries (a closure's move or destructor may
  // set a timer there, with the entry that fires still in its bucket): the next add does.
  void compact_if_stale() {
    if (entries_ > 2 * live_ + 1024 && !expiring_) [[unlikely]]
      compact();
  }
  void drop_entries() noexcept;  // every entry is stale

  std::array<block*, bucket_count> buckets_{};  // oldest block first
  std::array<block*, bucket_count> tails_{};    // the block being filled; all others are full
  std::array<tick, bucket_count> bucket_min_{};
  std::array<tick, bucket_count> bucket_max_{};
  std::array<std::size_t, bucket_count> bucket_size_{};  // entries, stale ones included
  std::uint64_t occupied_ = 0;  // bit i: bucket i+1 non-empty (bucket 0 checked directly)
  tick last_ = 0;               // the last key extracted
  std::uint64_t seq_ = 0;
  std::size_t entries_ = 0;  // heap entries, stale ones included
  std::size_t live_ = 0;     // pending timers
  bool expiring_ = false;    // inside expire: no compaction
  // Chunks of chunk_slots slots. The first small_chunks are allocated one by one; beyond
  // them (a store with tens of thousands of timers) chunks are cut from 2 MB slabs asked to
  // be backed by huge pages, so that touching slots in random order (firing, deleting)
  // misses the TLB less.
  static constexpr std::size_t small_chunks = 32;
  static constexpr std::size_t slab_bytes = std::size_t{2} << 20;
  static constexpr std::size_t slab_chunks = slab_bytes / (chunk_slots * sizeof(slot));
  void add_chunk();
  std::vector<slot*> chunks_;
  std::vector<std::unique_ptr<slot[]>> small_;  // the first chunks
  struct slab_delete {
    void operator()(void* p) const noexcept;
  };
  std::vector<std::unique_ptr<void, slab_delete>> slabs_;
  std::uint32_t slot_count_ = 0;  // slots handed out so far (free ones included)
  // Free slots, last freed on top: free_[0, free_count_). A stack rather than a list
  // threaded through the slots, so taking a slot does not wait on a load from the previous
  // one. Sized for every slot (take_slot grows it with the slots), so a push is a store.
  std::vector<std::uint32_t> free_;
  std::uint32_t free_count_ = 0;
  // Slots [fresh_, slot_count_) are free too, and are handed out in order before growing:
  // when the store drains, the free stack is dropped and fresh_ reset to 0, so a burst of
  // timers after it writes its slots in order rather than scattered.
  std::uint32_t fresh_ = 0;
  // The run being fired, sorted by (time, sequence), from run_pos_ on: a bucket found wholly
  // due, taken out of the heap at once and radix-sorted rather than split bucket by bucket
  // (bucket 0 too, sorted by sequence). Everything in it is due and comes before every
  // entry in the buckets. Left non-empty only if firing threw. Two buffers (the sort
  // ping-pongs), kept between runs; trim frees them when the last period's largest run
  // needed less than half.
  std::unique_ptr<entry[]> run_;
  std::unique_ptr<entry[]> run_spare_;
  std::size_t run_cap_ = 0;
  std::size_t run_len_ = 0;
  std::size_t run_pos_ = 0;
  std::size_t peak_run_ = 0;
  std::unique_ptr<std::uint32_t[]> counts_;  // the radix sort's digit counts
  block* pool_ = nullptr;
  std::size_t pool_count_ = 0;
  std::size_t blocks_ = 0;     // allocated, in buckets or in the pool
  std::size_t peak_used_ = 0;  // most blocks in buckets since the last trim
};

}  // namespace stakker::detail
