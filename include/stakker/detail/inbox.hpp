// SPDX-License-Identifier: MIT OR Apache-2.0
// inbox: the one way work reaches a runtime from another thread (shards, channels, foreign
// awaits, the Asio binding all post through it).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "stakker/core.hpp"
#include "stakker/export.hpp"
#include "stakker/sync/waker.hpp"

namespace stakker::detail {

class inbox;

// Runs a posted closure: `f(context)` for one that asks for its inbox's context (a static
// `takes_inbox_context` member: a channel's delivery finds its channel there instead of
// carrying a pointer per value), else `f()`.
template <class F>
void run_posted(F& f, void* context) {
  if constexpr (requires { F::takes_inbox_context; })
    f(context);
  else
    f();
}

// A closure that crossed a thread and is too large to sit inline in a lane's block.
struct STAKKER_EXPORT xtask {
  virtual ~xtask() = default;
  virtual void run(void* context) = 0;
};

template <class F>
struct xtask_of final : xtask {
  F f;
  explicit xtask_of(F&& x) : f(std::move(x)) {}
  void run(void* context) override { run_posted(f, context); }
};

// One sender's way into one inbox: a single-producer single-consumer queue of records (a
// header, then the closure constructed in place) written into a chain of blocks. Only the
// thread that owns the lane pushes; only the inbox's runtime thread takes. Records become
// visible to the taker when the producer publishes: at once for a thread outside any run,
// and once per run (on the lazy queue) for a runtime's thread, so that a run's worth of
// calls crosses with one release store and at most one wake.
//
// Blocks: each holds `ring_bytes / 2` (at least 1 KiB). A producer that fills its block
// links the next one (the spare the taker handed back, else one from the inbox's pool,
// else a new allocation) and goes on writing there; the taker keeps one spare and gives
// the rest back to the pool. A lane whose taker keeps up therefore holds `ring_bytes` and
// never allocates; one whose taker falls behind grows a block at a time (the overflow,
// never a wait) and shrinks back as it catches up. Records leave in the order pushed,
// whatever block they went to.
class STAKKER_EXPORT lane {
 public:
  struct options {
    std::size_t ring_bytes = 16 * 1024;  // what the lane holds while its taker keeps up
  };

  lane(std::shared_ptr<inbox> box, options o);
  ~lane();  // destroys every record not taken (on whichever thread drops the last owner)
  lane(const lane&) = delete;
  lane& operator=(const lane&) = delete;

  // Producer thread. Queues `f()` to run on the inbox's runtime thread; nothing runs here.
  // False if the inbox is closed (its runtime is gone): `f` is then destroyed here. With
  // `publish_now` false the record stays invisible until publish(); the caller promises
  // to publish (see inbox::post for the rule that decides).
  template <class F>
  bool push(F&& f, bool publish_now) {
    using D = std::decay_t<F>;
    if (closed_.load(std::memory_order_acquire)) {
      [[maybe_unused]] D dropped(std::forward<F>(f));
      return false;
    }
    if constexpr (sizeof(D) + header_size <= max_inline && alignof(D) <= record_align) {
      write<D>(std::forward<F>(f));
    } else {
      write<boxed>(boxed{new xtask_of<D>(D(std::forward<F>(f)))});
    }
    if (publish_now || write_ - unpublished_from_ >= publish_every()) publish();
    return true;
  }

  // Producer thread: makes the records pushed so far visible and wakes the inbox's runtime
  // if it has not been woken since it last took (one wake per batch, none while a wake is
  // already on its way).
  void publish() noexcept;

  // The most bytes ever waiting in this lane beyond `ring_bytes` (its taker fell that far
  // behind; read when the producer starts a block, so a block's worth is the resolution).
  // Any thread; approximate.
  std::size_t spill_high_water() const noexcept {
    return spill_high_.load(std::memory_order_relaxed);
  }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }

 private:
  friend class inbox;
  friend struct sender_lanes;
  // Records are a word apart: a closure aligned more strictly is boxed. A record is one
  // word of header and the closure (a channel's value of 8 bytes: 16 bytes in all), since
  // what a producer running ahead writes is what the runtime later reads cold.
  static constexpr std::size_t record_align = alignof(void*);
  // What a record's header points at: one per closure type.
  struct kind {
    // Runs the closure at `p` and destroys it (run), or only destroys it. `context`: the
    // inbox's (see inbox::set_context).
    void (*op)(void* p, void* context, bool run);
    std::size_t size;  // the whole record, a multiple of record_align
  };
  struct header {
    const kind* k;  // null: padding to the block's end
  };
  static constexpr std::size_t header_size = sizeof(header);
  static_assert(header_size % record_align == 0);
  static constexpr std::size_t max_inline = 512;
  static constexpr std::size_t min_block = 1024;  // holds the largest inline record
  // A block's link, then its records. `next` is written by the producer before it
  // publishes anything past the block's end, and read by the taker only after that.
  struct block {
    block* next;
  };
  static constexpr std::size_t block_head = record_align;
  struct boxed {
    xtask* t;
    explicit boxed(xtask* p) noexcept : t(p) {}
    boxed(boxed&& o) noexcept : t(std::exchange(o.t, nullptr)) {}
    ~boxed() { delete t; }
    static constexpr bool takes_inbox_context = true;
    void operator()(void* context) { t->run(context); }
  };

  template <class D>
  static void op_of(void* p, void* context, bool run) {
    D& d = *static_cast<D*>(p);
    if (run) {
      struct destroy {
        D& d;
        ~destroy() { d.~D(); }
      } guard{d};
      run_posted(d, context);
    } else {
      d.~D();
    }
  }

  template <class D>
  static constexpr kind kind_of{
      &op_of<D>, header_size + ((sizeof(D) + record_align - 1) & ~(record_align - 1))};

  std::byte* at(block* b, std::size_t off) const noexcept {
    return reinterpret_cast<std::byte*>(b) + block_head + off;
  }

  template <class D, class F>
  void write(F&& f) {
    constexpr std::size_t size = kind_of<D>.size;
    if (woff_ + size > block_bytes_) next_block();  // may throw: nothing written
    std::byte* p = at(wblock_, woff_);
    ::new (p + header_size) D(std::forward<F>(f));  // may throw: nothing written yet
    new (p) header{&kind_of<D>};
    woff_ += size;
    write_ += size;
  }

  // Producer: pads the rest of the block and links the next one.
  void next_block();
  // A block of this lane's size: from the inbox's pool when the size is the pool's, else
  // allocated. Any thread; may throw std::bad_alloc.
  block* new_block();
  // Gives a block back (to the pool, or freed). Any thread.
  void free_block(block* b) noexcept;

  // Taker side (the inbox's runtime thread). Runs what is visible; returns whether
  // anything ran. A closure's exception propagates with the rest kept.
  bool take();
  // The record at the taker's position, which it passes (leaving a finished block).
  header* next_record() noexcept;
  // Hands a finished block back as the spare (freeing the one there).
  void recycle(block* b) noexcept;
  // Destroys everything visible without running it (the inbox closed).
  void discard() noexcept;
  void destroy_to(std::size_t end) noexcept;

  // Shared, read-mostly.
  std::shared_ptr<inbox> box_;
  std::size_t block_bytes_;  // a lane holds two while its taker keeps up: ring_bytes()
  std::atomic<bool> closed_{false};
  std::size_t ring_bytes() const noexcept { return 2 * block_bytes_; }

  // Producer side.
  alignas(64) block* wblock_;
  std::size_t woff_ = 0;
  std::size_t write_ = 0;  // bytes written, padding included
  // A batch is published at the end of the run that made it, or as soon as it holds a
  // quarter of ring_bytes(): a long run (a queue that keeps refilling itself) must not
  // keep the receiver waiting, idle, until it ends.
  std::size_t unpublished_from_ = 0;  // write_ when last published
  std::size_t publish_every() const noexcept { return ring_bytes() / 4; }
  bool dirty_ = false;  // on this thread's list of lanes to publish at the end of a run

  // Producer → taker.
  alignas(64) std::atomic<std::size_t> published_{0};

  // Taker → producer: how far it has read (for the high-water mark), and a block to reuse.
  alignas(64) std::atomic<std::size_t> consumed_{0};
  std::atomic<block*> spare_{nullptr};

  // Taker side.
  alignas(64) block* rblock_;
  std::size_t roff_ = 0;
  std::size_t read_ = 0;
  block* running_ = nullptr;   // the block of the closure running now
  block* deferred_ = nullptr;  // left while that closure ran: recycled when it returns

  std::atomic<std::size_t> spill_high_{0};
};

// A runtime's side: the lanes feeding it, the waker that runs them, and the objects pinned
// to it for handles on other threads (see home_pin). Made by `inbox::of(core&)` on the
// runtime thread (the runtime needs a poll waker, which the loop sets); lives as long as
// the runtime, then closes: whatever arrives later is destroyed unrun, on the sending
// thread or the one that drops the lane last.
//
// What a closure run from the inbox may do (it runs on the runtime thread, at the start of
// a run, from the inbox's waker handler): post to any inbox (its own included: that is
// delivered in a later run), make or drop lanes and pins, close the inbox (the rest is
// destroyed unrun), throw (the exception propagates out of `run`; what was not yet run is
// kept, the runtime is woken, and the next run delivers it first).
class STAKKER_EXPORT inbox : public std::enable_shared_from_this<inbox> {
 public:
  // The inbox of `c`, made on first use (with lanes of `o`). Runtime thread only.
  static const std::shared_ptr<inbox>& of(core& c, lane::options o = {});
  // An inbox of its own for `c`, for a sender whose queued closures must go with something
  // shorter-lived than the runtime (a channel's guard, an Asio binding): its owner calls
  // close() on the runtime thread, at the latest before the runtime goes. Delivered by a
  // waker of its own. Runtime thread only; std::logic_error without a poll waker.
  static std::shared_ptr<inbox> make(core& c, lane::options o = {});

  // Any thread: queues `f()` to run on this inbox's runtime thread, through the calling
  // thread's lane, so that posts from one thread run in the order made. Called from inside
  // a run of a runtime on this thread, the post becomes visible when that run's lazy queue
  // flushes (batched); otherwise at once. False if the inbox is closed (`f` destroyed).
  template <class F>
  bool post(F&& f) {
    auto [l, batched] = sender_lane();
    if (l != nullptr) [[likely]]
      return l->push(std::forward<F>(f), !batched);
    // Closed, or this thread is ending (its lanes are going): a lane of its own.
    if (is_closed()) {
      [[maybe_unused]] std::decay_t<F> dropped(std::forward<F>(f));
      return false;
    }
    return open_lane(options_)->push(std::forward<F>(f), true);
  }

  // Runtime thread, before anything is posted: a pointer handed to every closure that asks
  // for it when it runs (see run_posted). A channel's own inbox holds its channel here.
  void set_context(void* c) noexcept { context_ = c; }

  // Any thread: makes what this thread posted to this inbox visible now, instead of at the
  // end of the run it is inside (for a sender about to wait for the home's answer).
  void publish_mine() noexcept;

  // Any thread: a lane of its own for a sender that wants to publish itself (one
  // producer thread at a time).
  std::shared_ptr<lane> open_lane(lane::options o = {});

  // Whether the runtime is gone (posts fail). Any thread.
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  // The runtime this inbox feeds, or null once closed. Any thread may compare it with its
  // own running core (equal only on the home thread, where it does not change under it).
  core* home() const noexcept { return home_.load(std::memory_order_relaxed); }
  // The most bytes that ever waited in one lane beyond its ring_bytes (lane::spill_high_water).
  std::size_t spill_high_water() const noexcept {
    return spill_high_.load(std::memory_order_relaxed);
  }

  // Library-internal.
  inbox(core& c, lane::options o);
  ~inbox();
  // Called by a lane's publish (any thread), after its seq_cst store of what it published.
  // Tested before it is set: while a wake is on its way (the usual case when producers
  // outrun the runtime) every producer only reads the flag, so its cache line is not
  // bounced between them. Pairs with drain(), which clears the flag (seq_cst) before it
  // reads the lanes: a producer that still reads it set has its store seen by that drain.
  void wake_once() noexcept {
    if (wake_pending_.load(std::memory_order_seq_cst)) return;
    if (!wake_pending_.exchange(true, std::memory_order_seq_cst)) wake_ref_.wake();
  }
  // Runtime thread: closes (every lane is closed, what is queued destroyed, pins released).
  void close() noexcept;
  // Lane blocks of the inbox's own size (block_bytes(): options' ring_bytes / 2), kept for
  // reuse (see the pool below). Any thread.
  std::size_t block_bytes() const noexcept { return pool_block_bytes_; }
  void* take_block();
  void give_block(void* b) noexcept;
  // The blocks kept now (for tests).
  std::size_t pooled_blocks() const noexcept;
  // Runtime thread: frees the pooled blocks beyond the most lanes held at once since the
  // last trim (runtime::release_memory calls it, every 60 s of the runtime's time).
  void trim_pool() noexcept;
  class home_pin;
  void pin(home_pin* p) noexcept;
  void unpin(home_pin* p) noexcept;

 private:
  friend class lane;
  // This thread's lane into this inbox, and whether the post is batched (made inside a
  // run); null when the inbox is closed or this thread's lanes are gone (it is ending).
  std::pair<lane*, bool> sender_lane();
  void drain();

  std::atomic<core*> home_;
  lane::options options_;
  stakker::waker wake_;
  stakker::waker_ref wake_ref_;
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> spill_high_{0};
  const std::uint64_t id_;

  // The block pool. A receiver that falls behind and catches up leaves its lanes' blocks
  // here instead of freeing them, so the next backlog (or a new thread's lane) reuses them
  // and faults in no new pages: freed, they went back to the allocator and the system, to
  // be faulted in again (zeroed) at the next burst. One lock per block of records (a block
  // holds hundreds of small ones). Kept: at most the most blocks the lanes held at once
  // since the runtime last released memory (runtime::release_memory, every 60 s of its
  // time: a runtime kept in a virtual time that never advances keeps its peak).
  const std::size_t pool_block_bytes_;
  mutable std::mutex pool_m_;
  std::vector<void*> pool_;          // guarded by pool_m_
  std::size_t blocks_out_ = 0;       // guarded: blocks of the pool's size held by lanes
  std::size_t blocks_out_peak_ = 0;  // guarded: the most held at once since the last trim

  // Read by every producer's publish, written once per wake: a line of its own.
  alignas(64) std::atomic<bool> wake_pending_{false};

  // Lanes added by any thread, picked up by the runtime thread.
  std::mutex lanes_m_;
  std::vector<std::shared_ptr<lane>> added_;  // guarded by lanes_m_
  std::atomic<bool> lanes_added_{false};
  // Runtime thread only.
  std::vector<std::shared_ptr<lane>> lanes_;
  std::size_t resume_at_ = 0;  // the lane to take first (after a throw)
  void* context_ = nullptr;    // set_context
  home_pin* pins_ = nullptr;
};

// An object kept on an inbox's runtime (it holds that runtime's single-threaded handles)
// for counted handles that any thread may hold. Two counts: `handles`, held by the
// handles, and `memory`, held by the handle side as a whole and by the home side while
// the object is pinned. When the last handle goes, the home is told (a posted closure, or
// directly when the last handle goes on the home thread inside its run); it calls
// `release_on_home` and unpins. A home that closes first releases every pin it holds.
//
// Closures posted to the home that use the pin (a call through a remote) hold no handle,
// which would cost an atomic operation on a line the home also writes for every call.
// Instead the sender counts them (`item_sent`, while it holds a handle) and the home counts
// those that ran (`item_ran`); the release waits until the two agree, so no closure still
// on its way finds the pin released. Such a closure destroyed unrun must not touch the pin:
// that happens only once the home has closed (the inbox runs everything while it is open).
class STAKKER_EXPORT inbox::home_pin {
 public:
  // Runtime thread of `box`, which must be open (made by inbox::of on a live runtime): pins.
  // The caller holds the first handle.
  explicit home_pin(inbox& box) noexcept;
  home_pin(const home_pin&) = delete;
  home_pin& operator=(const home_pin&) = delete;

  // Any thread.
  void add_handle() noexcept { handles_.fetch_add(1, std::memory_order_relaxed); }
  void drop_handle() noexcept;
  inbox& box() const noexcept { return *box_; }
  // Any thread holding a handle: a closure using the pin is on its way to the home. One
  // uncontended atomic add when one thread sends (the home only reads this count, and only
  // when the last handle has gone).
  void item_sent() noexcept { sent_.fetch_add(1, std::memory_order_relaxed); }
  // Home thread: that closure has run (it may release the pin: touch nothing after).
  void item_ran() noexcept {
    ++ran_;
    if (release_pending_) release_if_quiet();
  }

 protected:
  virtual ~home_pin() = default;
  // Home thread: drops the local handles kept (once; may answer rets, stop nothing).
  virtual void release_on_home() noexcept = 0;

 private:
  friend class inbox;
  void release_memory() noexcept {
    if (memory_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // Home thread, the last handle gone: releases now, or once every closure sent has run.
  void unpin_on_home() noexcept;
  void release_if_quiet() noexcept;
  // Home thread: releases now (the home closes).
  void release_now() noexcept;

  std::shared_ptr<inbox> box_;
  std::atomic<std::size_t> handles_{1};
  std::atomic<int> memory_{2};
  alignas(64) std::atomic<std::uint64_t> sent_{0};
  // Home thread only.
  alignas(64) std::uint64_t ran_ = 0;
  bool pinned_ = true;
  bool release_pending_ = false;
  home_pin* prev_ = nullptr;
  home_pin* next_ = nullptr;
};

}  // namespace stakker::detail
