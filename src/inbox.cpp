// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/inbox.hpp"

#include "stakker/core.hpp"
#include "stakker/detail/observer.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>

namespace stakker::detail {

namespace {

std::atomic<std::uint64_t> next_inbox_id{1};

// Kept in the anymap of the inbox's runtime: the runtime's teardown closes the inbox.
struct inbox_holder {
  std::shared_ptr<inbox> box;
  inbox_holder(std::shared_ptr<inbox> b) noexcept : box(std::move(b)) {}
  inbox_holder(inbox_holder&&) noexcept = default;
  inbox_holder& operator=(inbox_holder&&) noexcept = default;
  ~inbox_holder() {
    if (box) box->close();
  }
};

}  // namespace

// Per thread: the lanes this thread sends through (one per inbox), and those written
// inside the current run but not yet published.
struct sender_lanes {
  struct entry {
    std::uint64_t id;
    std::shared_ptr<lane> l;
  };
  std::vector<entry> entries;
  std::vector<std::shared_ptr<lane>> dirty;
  bool flush_queued = false;

  // Dropping a lane may destroy closures it still holds, and their destructors may post
  // (a handle's last drop tells its home), which comes back here: every list is made whole
  // before anything in it is dropped.
  void flush() noexcept {
    flush_queued = false;
    std::vector<std::shared_ptr<lane>> d;
    d.swap(dirty);
    for (auto& l : d) {  // publish() runs no user code
      l->dirty_ = false;
      l->publish();
    }
  }
  std::size_t find(std::uint64_t id) const noexcept {
    std::size_t i = 0;
    while (i < entries.size() && entries[i].id != id) ++i;
    return i;
  }
  // Lanes into closed inboxes go (they keep their inbox's memory alive).
  void prune_closed() {
    std::vector<entry> gone;
    for (std::size_t k = 0; k < entries.size();) {
      if (entries[k].l->is_closed()) {
        gone.push_back(std::move(entries[k]));
        entries[k] = std::move(entries.back());
        entries.pop_back();
      } else {
        ++k;
      }
    }
  }
  ~sender_lanes();
};

namespace {
thread_local sender_lanes this_thread_lanes;
// Set while this thread's lanes are being destroyed (the thread is ending): posts made
// then, from destructors of what the lanes held, each go through a lane of their own.
// Trivially destructible, so it may be read at any point of the thread's end.
thread_local bool this_thread_lanes_gone = false;

// The lazy closure that publishes a run's worth of posts. Destroyed unrun (the runtime
// went before its lazy queue ran), it publishes all the same.
struct flush_at_end_of_run {
  bool live = true;
  flush_at_end_of_run() = default;
  flush_at_end_of_run(flush_at_end_of_run&& o) noexcept : live(std::exchange(o.live, false)) {}
  ~flush_at_end_of_run() {
    if (live) this_thread_lanes.flush();
  }
  void operator()(core&) noexcept {
    live = false;
    this_thread_lanes.flush();
  }
};
}  // namespace

sender_lanes::~sender_lanes() {
  this_thread_lanes_gone = true;
  flush();
}

// --- lane ---

namespace {
// What a lane of options `o` makes its blocks hold (the inbox's pool holds blocks of its own lanes'
// size).
std::size_t lane_block_bytes(lane::options o, std::size_t min_block, std::size_t align) {
  return std::max(o.ring_bytes / 2, min_block) & ~(align - 1);
}
}  // namespace

namespace {
void raise_to(std::atomic<std::size_t>& high, std::size_t n) noexcept {
  std::size_t h = high.load(std::memory_order_relaxed);
  while (n > h && !high.compare_exchange_weak(h, n, std::memory_order_relaxed)) {
  }
}
}  // namespace

lane::lane(std::shared_ptr<inbox> box, options o) : box_(std::move(box)) {
  block_bytes_ = lane_block_bytes(o, min_block, record_align);
  wblock_ = rblock_ = new_block();
}

lane::~lane() {
  destroy_to(write_);
  // The taker's position is the producer's end: free from there to the producer's block
  // (one more, linked, if a push failed after starting it).
  for (block* b = rblock_; b != nullptr;) {
    block* n = b == wblock_ ? nullptr : b->next;
    free_block(b);
    b = n;
  }
  free_block(spare_.load(std::memory_order_acquire));
}

lane::block* lane::new_block() {
  void* p = block_bytes_ == box_->block_bytes()
                ? box_->take_block()
                : ::operator new(block_head + block_bytes_, std::align_val_t(record_align));
  auto* b = static_cast<block*>(p);
  b->next = nullptr;
  return b;
}

void lane::free_block(block* b) noexcept {
  if (b == nullptr) return;
  if (block_bytes_ == box_->block_bytes()) return box_->give_block(b);
  ::operator delete(b, std::align_val_t(record_align));
}

void lane::next_block() {
  if (woff_ < block_bytes_) {
    new (at(wblock_, woff_)) header{nullptr};
    write_ += block_bytes_ - woff_;
    woff_ = block_bytes_;
  }
  block* b = spare_.exchange(nullptr, std::memory_order_acquire);
  if (b == nullptr) {
    b = new_block();  // may throw: this block stays full, the next push tries again
    // No spare: the taker is a block or more behind. How far past what the lane holds?
    const std::size_t waiting = write_ - consumed_.load(std::memory_order_relaxed);
    if (waiting > ring_bytes()) {
      raise_to(spill_high_, waiting - ring_bytes());
      raise_to(box_->spill_high_, waiting - ring_bytes());
    }
  }
  b->next = nullptr;
  wblock_->next = b;  // published with the records written after it
  wblock_ = b;
  woff_ = 0;
}

void lane::publish() noexcept {
  if (published_.load(std::memory_order_relaxed) == write_) return;
  unpublished_from_ = write_;
  // seq_cst: ordered before wake_once's read of the inbox's flag (see there).
  published_.store(write_, std::memory_order_seq_cst);
  box_->wake_once();
}

lane::header* lane::next_record() noexcept {
  if (roff_ == block_bytes_) {
    // Every closure of this block has run or been destroyed: hand it back as the spare.
    block* done = rblock_;
    rblock_ = done->next;
    roff_ = 0;
    if (done == running_) {
      deferred_ = done;  // a closure in it is still running (it closed the inbox)
    } else {
      recycle(done);
    }
  }
  auto* h = reinterpret_cast<header*>(at(rblock_, roff_));
  const std::size_t size = h->k != nullptr ? h->k->size : block_bytes_ - roff_;
  roff_ += size;
  read_ += size;
  return h;
}

void lane::recycle(block* b) noexcept { free_block(spare_.exchange(b, std::memory_order_acq_rel)); }

bool lane::take() {
  // seq_cst: after drain()'s clearing of the wake flag (see inbox::wake_once).
  const std::size_t end = published_.load(std::memory_order_seq_cst);
  bool any = false;
  // The block of the closure running stays put until it returns: the closure may close the
  // inbox, whose discard() passes (and would recycle) that block.
  struct end_running {
    lane& l;
    ~end_running() {
      l.running_ = nullptr;
      if (l.deferred_ != nullptr) l.recycle(std::exchange(l.deferred_, nullptr));
    }
  };
  void* const context = box_->context_;  // set before anything was posted
  std::size_t ran = 0;                   // for the observer of the runtime running this
  struct report {
    const std::size_t& n;
    ~report() {
      core* c = running_core;
      if (n != 0 && c != nullptr && core_access::observing(*c)) [[unlikely]]
        observed_inbox(*c, n);
    }
  } reported{ran};
  while (read_ != end && !closed_.load(std::memory_order_relaxed)) {
    // Passed before it runs: a closure that throws is not run again.
    header* h = next_record();
    if (h->k == nullptr) continue;
    any = true;
    ++ran;
    running_ = rblock_;
    end_running guard{*this};
    try {
      h->k->op(reinterpret_cast<std::byte*>(h) + header_size, context, true);
    } catch (...) {
      consumed_.store(read_, std::memory_order_release);
      throw;
    }
  }
  consumed_.store(read_, std::memory_order_release);
  return any;
}

void lane::discard() noexcept {
  destroy_to(published_.load(std::memory_order_acquire));
  consumed_.store(read_, std::memory_order_release);
}

void lane::destroy_to(std::size_t end) noexcept {
  while (read_ != end) {
    header* h = next_record();
    if (h->k != nullptr) h->k->op(reinterpret_cast<std::byte*>(h) + header_size, nullptr, false);
  }
}

// --- inbox ---

const std::shared_ptr<inbox>& inbox::of(core& c, lane::options o) {
  if (auto* h = c.anymap_try_get<inbox_holder>()) return h->box;
  c.anymap_set(inbox_holder(make(c, o)));
  return c.anymap_get<inbox_holder>().box;
}

std::shared_ptr<inbox> inbox::make(core& c, lane::options o) {
  auto box = std::make_shared<inbox>(c, o);
  // The handler holds the inbox: after close() resets the waker, a wake collected before
  // may still call it (with `deleted` false) before the final call, and the owner may have
  // let go of the inbox by then. The runtime destroys the handler after that final call.
  // The runtime may also go first (its owner outlives it): its teardown destroys the
  // handler, which then closes the inbox, so that what waits goes with the runtime and
  // later posts fail (after a close by the owner this finds it closed already).
  struct closes_with_handler {
    std::shared_ptr<inbox> box;
    ~closes_with_handler() {
      if (box) box->close();
    }
  };
  auto keep = std::make_shared<closes_with_handler>();  // shared: a std::function copies
  keep->box = box;
  // The block pool is trimmed with the runtime's memory; close() takes this off again.
  core_access::add_trimmer(c, box.get(),
                           [](void* b) noexcept { static_cast<inbox*>(b)->trim_pool(); });
  try {
    box->wake_ = c.waker([keep](core&, bool deleted) {  // throws without a poll waker
      if (!deleted) keep->box->drain();
    });
  } catch (...) {
    core_access::remove_trimmer(c, box.get());
    throw;
  }
  box->wake_ref_ = box->wake_.ref();
  return box;
}

void inbox::publish_mine() noexcept {
  for (auto& e : this_thread_lanes.entries) {
    if (e.id == id_) return e.l->publish();  // still on the dirty list: published again, idly
  }
}

inbox::inbox(core& c, lane::options o)
    : home_(&c),
      options_(o),
      id_(next_inbox_id.fetch_add(1, std::memory_order_relaxed)),
      pool_block_bytes_(lane_block_bytes(o, lane::min_block, lane::record_align)) {}

inbox::~inbox() {
  for (void* b : pool_) ::operator delete(b, std::align_val_t(lane::record_align));
}

void* inbox::take_block() {
  {
    std::lock_guard<std::mutex> lock(pool_m_);
    ++blocks_out_;
    blocks_out_peak_ = std::max(blocks_out_peak_, blocks_out_);
    if (!pool_.empty()) {
      void* b = pool_.back();
      pool_.pop_back();
      return b;
    }
  }
  try {
    return ::operator new(lane::block_head + pool_block_bytes_,
                          std::align_val_t(lane::record_align));
  } catch (...) {
    std::lock_guard<std::mutex> lock(pool_m_);
    --blocks_out_;
    throw;
  }
}

void inbox::give_block(void* b) noexcept {
  std::lock_guard<std::mutex> lock(pool_m_);
  --blocks_out_;
  try {
    pool_.push_back(b);
  } catch (...) {  // no room to keep it: free it
    ::operator delete(b, std::align_val_t(lane::record_align));
  }
}

std::size_t inbox::pooled_blocks() const noexcept {
  std::lock_guard<std::mutex> lock(pool_m_);
  return pool_.size();
}

void inbox::trim_pool() noexcept {
  std::lock_guard<std::mutex> lock(pool_m_);
  const std::size_t keep = blocks_out_peak_ > blocks_out_ ? blocks_out_peak_ - blocks_out_ : 0;
  // The vector keeps its capacity (a pointer per block: an eighth of a percent of them).
  while (pool_.size() > keep) {
    ::operator delete(pool_.back(), std::align_val_t(lane::record_align));
    pool_.pop_back();
  }
  blocks_out_peak_ = blocks_out_;
}

std::pair<lane*, bool> inbox::sender_lane() {
  if (this_thread_lanes_gone) return {nullptr, false};
  sender_lanes& s = this_thread_lanes;
  std::size_t i = s.find(id_);
  if (i == s.entries.size()) {
    if (is_closed()) return {nullptr, false};
    s.prune_closed();  // may post, to this inbox too
    i = s.find(id_);
    if (i == s.entries.size()) s.entries.push_back({id_, open_lane(options_)});
  }
  const std::shared_ptr<lane>& l = s.entries[i].l;
  core* rc = running_core;
  if (rc == nullptr) return {l.get(), false};
  if (!l->dirty_) {
    s.dirty.push_back(l);
    l->dirty_ = true;
  }
  if (!s.flush_queued) {
    rc->lazy(flush_at_end_of_run{});
    s.flush_queued = true;
  }
  return {l.get(), true};
}

std::shared_ptr<lane> inbox::open_lane(lane::options o) {
  auto l = std::make_shared<lane>(shared_from_this(), o);
  {
    std::lock_guard<std::mutex> lock(lanes_m_);
    if (closed_.load(std::memory_order_acquire)) {
      l->closed_.store(true, std::memory_order_release);
      return l;
    }
    added_.push_back(l);
    lanes_added_.store(true, std::memory_order_release);
  }
  return l;
}

void inbox::drain() {
  wake_pending_.exchange(false, std::memory_order_seq_cst);
  if (lanes_added_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(lanes_m_);
    for (auto& l : added_) lanes_.push_back(std::move(l));
    added_.clear();
    lanes_added_.store(false, std::memory_order_relaxed);
  }
  // Starting with the lane a closure threw from (its rest goes before anything newer), by
  // index: a closure may add lanes (they arrive through added_, not here) or close the
  // inbox (lanes_ is then cleared: stop). A closure may also drop the last owner of this
  // inbox when it closes it: then `l` below is what keeps it alive, and nothing touches
  // `this` once `l` is gone.
  const std::size_t n = lanes_.size();
  const std::size_t first = resume_at_ < n ? resume_at_ : 0;
  resume_at_ = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (first + k) % n;
    std::shared_ptr<lane> l = lanes_[i];
    try {
      l->take();
    } catch (...) {
      // The rest stays in its lane; wake again so that the next run takes it first.
      if (!closed_.load(std::memory_order_relaxed)) {
        resume_at_ = i;
        wake_pending_.store(true, std::memory_order_release);
        wake_ref_.wake();
      }
      throw;
    }
    if (closed_.load(std::memory_order_relaxed)) return;
  }
  // Lanes whose producer has let go (a thread that ended) and that are empty go.
  std::erase_if(lanes_, [](const std::shared_ptr<lane>& l) {
    return l.use_count() == 1 && l->read_ == l->published_.load(std::memory_order_acquire);
  });
}

void inbox::close() noexcept {
  if (closed_.load(std::memory_order_relaxed)) return;
  std::vector<std::shared_ptr<lane>> lanes;
  {
    std::lock_guard<std::mutex> lock(lanes_m_);
    closed_.store(true, std::memory_order_release);
    lanes.swap(lanes_);
    for (auto& l : added_) lanes.push_back(std::move(l));
    added_.clear();
  }
  for (auto& l : lanes) {
    l->closed_.store(true, std::memory_order_release);
    l->discard();
  }
  // Releasing may answer rets, whose closures may pin again: until none is left.
  while (pins_ != nullptr) pins_->release_now();
  wake_.reset();
  if (core* c = home_.load(std::memory_order_relaxed)) core_access::remove_trimmer(*c, this);
  home_.store(nullptr, std::memory_order_relaxed);
}

void inbox::pin(home_pin* p) noexcept {
  p->next_ = pins_;
  if (pins_ != nullptr) pins_->prev_ = p;
  pins_ = p;
}

void inbox::unpin(home_pin* p) noexcept {
  if (p->next_ != nullptr) p->next_->prev_ = p->prev_;
  if (p->prev_ != nullptr) {
    p->prev_->next_ = p->next_;
  } else {
    pins_ = p->next_;
  }
  p->prev_ = p->next_ = nullptr;
}

// --- home_pin ---

inbox::home_pin::home_pin(inbox& box) noexcept : box_(box.shared_from_this()) { box.pin(this); }

void inbox::home_pin::unpin_on_home() noexcept {
  if (!pinned_) return;
  release_pending_ = true;
  release_if_quiet();
}

void inbox::home_pin::release_if_quiet() noexcept {
  // Every send happened before its handle went, and the last handle's going reached this
  // thread through the inbox (release/acquire all the way): `sent_` is complete here.
  if (ran_ == sent_.load(std::memory_order_acquire)) release_now();
}

void inbox::home_pin::release_now() noexcept {
  if (!pinned_) return;
  pinned_ = false;
  release_pending_ = false;
  box_->unpin(this);
  release_on_home();
  release_memory();
}

void inbox::home_pin::drop_handle() noexcept {
  if (handles_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  inbox& b = *box_;
  if (running_core != nullptr && running_core == b.home()) {
    unpin_on_home();
    return release_memory();
  }
  // Carries the handle side's share of the memory; run on the home, it unpins.
  struct unpin_item {
    home_pin* p;
    explicit unpin_item(home_pin* x) noexcept : p(x) {}
    unpin_item(unpin_item&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
    ~unpin_item() {
      if (p != nullptr) p->release_memory();
    }
    void operator()() noexcept { p->unpin_on_home(); }
  };
  try {
    b.post(unpin_item(this));  // closed: the home released it already
  } catch (...) {
    // Out of memory for the lane: the pin is released when the home closes.
    std::fputs("stakker: out of memory posting a release to another runtime\n", stderr);
    release_memory();
  }
}

}  // namespace stakker::detail
