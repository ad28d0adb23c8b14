// SPDX-License-Identifier: MIT OR Apache-2.0
// A FIFO of type-erased one-shot closures stored inline in fixed-size chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "stakker/export.hpp"

namespace stakker {
class core;
}

namespace stakker::detail {

// Each entry is [thunk pointer][closure bytes]. The thunk runs the closure in place and
// destroys it (a null core means "destroy only"), and returns the next entry's address: the
// run loop keeps its position in a register, so one item's dispatch does not wait on the
// store of the previous one. Entries are never moved: when a chunk is
// full, a jump entry links it to the next one, so a closure capturing a std::string (or
// anything not trivially relocatable) stays valid for its whole life in the queue. Closures
// too large or over-aligned for an entry are boxed. Spare chunks are kept for reuse
// (faulting pages back in after a burst is slower than keeping them); `trim` releases them.
class STAKKER_EXPORT flat_queue {
 public:
  using thunk = std::byte* (*)(flat_queue& q, std::byte* entry, core* c);

  static constexpr std::size_t chunk_bytes = 16 * 1024;
  static constexpr std::size_t max_inline = 1024;
  static constexpr std::size_t slot = alignof(void*);

  flat_queue() noexcept = default;
  flat_queue(const flat_queue&) = delete;
  flat_queue& operator=(const flat_queue&) = delete;
  ~flat_queue();

  // Appends `f`, which must be invocable as `f(core&)`. No allocation once warm.
  template <class F>
  void push(F&& f) {
    emplace<std::decay_t<F>>(std::forward<F>(f));
  }

  // Appends a closure of type F built in place from `args` (braced initialisation).
  // Returns the closure's address (where it will run from).
  template <class F, class... Args>
  F* emplace(Args&&... args) {
    if constexpr (!stored_inline<F>) {
      auto box = std::unique_ptr<F>(new F{std::forward<Args>(args)...});
      F* f = box.get();
      emplace<boxed<F>>(std::move(box));
      return f;
    } else {
      if (!fits<F>()) [[unlikely]]
        grow();
      return emplace_fitting<F>(std::forward<Args>(args)...);
    }
  }

  // The same in two steps, for callers that keep the growth out of line (see queue_on):
  // whether F is built in its entry and the entry fits now, and building it there.
  template <class F>
  static constexpr bool stored_inline = sizeof(F) <= max_inline && alignof(F) <= slot;
  template <class F>
  bool fits() const noexcept {
    static_assert(stored_inline<F>);
    return static_cast<std::size_t>(end_ - tail_) >= entry_size<F>();
  }
  template <class F, class... Args>
  F* emplace_fitting(Args&&... args) {
    F* f = ::new (static_cast<void*>(tail_ + slot)) F{std::forward<Args>(args)...};
    *reinterpret_cast<thunk*>(tail_) = &run_entry<F>;
    tail_ += entry_size<F>();
    return f;
  }

  bool empty() const noexcept { return head_ == tail_; }

  // Runs entries until the queue is empty, including entries pushed meanwhile.
  void run_all(core& c) {
    for (std::byte* p = head_; p != tail_;) p = (*reinterpret_cast<thunk*>(p))(*this, p, &c);
  }

  // The position after the last entry now queued; `run_until(mark)` runs up to there only.
  std::byte* mark() const noexcept { return tail_; }
  void run_until(core& c, std::byte* stop) {
    for (std::byte* p = head_; p != stop;) p = (*reinterpret_cast<thunk*>(p))(*this, p, &c);
  }

  // Runs the first closure (skipping chunk links). Returns false if there was none.
  bool run_one(core& c);

  // Destroys every queued closure without running it, including any pushed meanwhile.
  void destroy_all() noexcept;

  // When empty, restarts writing at the beginning of the current chunk. (Inline: every run
  // rewinds its three queues, and a call each cost as much as the test.)
  void rewind() noexcept {
    if (head_ == tail_ && tail_chunk_ != nullptr) head_ = tail_ = data(tail_chunk_);
  }

  // Frees spare chunks beyond `keep`.
  void trim(std::size_t keep) noexcept;

  // Bytes held in chunks, in use or spare.
  std::size_t capacity_bytes() const noexcept { return chunks_ * chunk_bytes; }

 private:
  struct chunk {
    chunk* next_spare;
  };
  static constexpr std::size_t header = 16;
  static constexpr std::size_t jump_size = 3 * slot;

  template <class F>
  static constexpr std::size_t entry_size() {
    return slot + (sizeof(F) + slot - 1) / slot * slot;
  }

  static std::byte* data(chunk* c) noexcept { return reinterpret_cast<std::byte*>(c) + header; }

  // Sets head_ past the entry before running it, so an exception leaves the queue intact.
  // A closure type may run and destroy itself in one (`F::run_in_queue(f, c)`, a null core:
  // destroy only), to lay out its paths itself (see actor_call).
  template <class F>
  static std::byte* run_entry(flat_queue& q, std::byte* entry, core* c) {
    F* f = std::launder(reinterpret_cast<F*>(entry + slot));
    std::byte* next = entry + entry_size<F>();
    q.head_ = next;
    if constexpr (requires { F::run_in_queue(f, c); }) {
      // One register across the closure's run, not three (entry, f, next: g++ keeps each
      // apart, each a callee-saved register): the next entry is found again from f.
#if defined(__GNUC__)
      __asm__("" : "+r"(f));
#endif
      F::run_in_queue(f, c);
      return reinterpret_cast<std::byte*>(f) + (entry_size<F>() - slot);
    } else if (c == nullptr) {
      f->~F();
    } else {
      struct destroy_after {
        F* f;
        ~destroy_after() { f->~F(); }
      } guard{f};
      (*f)(*c);
    }
    return next;
  }

  template <class F>
  struct boxed {
    std::unique_ptr<F> f;
    void operator()(core& c) { (*f)(c); }
  };

  static std::byte* jump(flat_queue& q, std::byte* entry, core*) noexcept;
  void grow();
  void release(chunk* c) noexcept;

  std::byte* head_ = nullptr;
  std::byte* tail_ = nullptr;
  std::byte* end_ = nullptr;  // last byte usable for entries; a jump entry fits after it
  chunk* tail_chunk_ = nullptr;
  chunk* spare_ = nullptr;
  std::size_t spare_count_ = 0;
  std::size_t chunks_ = 0;
};

}  // namespace stakker::detail
