// SPDX-License-Identifier: MIT OR Apache-2.0
// share<T>: state shared by the actors of one runtime, borrowed only through the core.
#pragma once

#include <cstdint>
#include <new>
#include <optional>
#include <utility>

#include "stakker/core.hpp"
#include "stakker/detail/config.hpp"

namespace stakker {

template <class T>
class share_weak;

namespace detail {

template <class T>
struct share_box {
  std::uint32_t strong = 1;
  std::uint32_t weak = 0;
  std::int32_t borrow = 0;  // >0: that many ro borrows; -1: one rw borrow
  union {
    T value;
  };
  template <class... A>
  explicit share_box(A&&... a) : value(std::forward<A>(a)...) {}
  ~share_box() {}

  // Out of line: g++ 12 otherwise reports use-after-free on paths where two handles of one
  // box are released in a row (it cannot see that the counts keep the box alive).
  [[gnu::noinline]] static void free(share_box* b) noexcept { delete b; }
};

}  // namespace detail

// A borrow of a share: valid until it is destroyed. Debug builds assert when a share is
// borrowed mutably twice (or mutably and shared at once) and when a borrow outlives the
// actor call that made it. Release builds keep only the pointer.
template <class T, bool Mutable>
class share_borrow {
 public:
  using element_type = std::conditional_t<Mutable, T, const T>;

  share_borrow(const share_borrow&) = delete;
  share_borrow& operator=(const share_borrow&) = delete;
  ~share_borrow() {
#if STAKKER_DEBUG_CHECKS
    box_->borrow = Mutable ? 0 : box_->borrow - 1;
    --detail::core_access::borrows(*core_);
#endif
  }

  element_type& operator*() const noexcept { return box_->value; }
  element_type* operator->() const noexcept { return &box_->value; }
  element_type& get() const noexcept { return box_->value; }

 private:
  template <class>
  friend class share;
  share_borrow(core& c, detail::share_box<T>* b) noexcept : box_(b), core_(&c) {
#if STAKKER_DEBUG_CHECKS
    if constexpr (Mutable) {
      STAKKER_ASSERT(b->borrow == 0, "share borrowed twice: rw() while another borrow is alive");
      b->borrow = -1;
    } else {
      STAKKER_ASSERT(b->borrow >= 0, "share borrowed twice: ro() while an rw() borrow is alive");
      ++b->borrow;
    }
    ++detail::core_access::borrows(c);
#endif
  }

  detail::share_box<T>* box_;
  core* core_;  // used by debug checks only; kept so the layout never depends on them
};

// A value shared by several actors of one runtime (a non-atomic count; copies share it).
// Access goes through the core: `s.rw(cx)->field = 1;` or `auto v = s.ro(cx);`. Keep a
// borrow within one call: never across a queued call (debug builds check). Breaks actor
// isolation on purpose; prefer messages where they fit.
template <class T>
class share {
 public:
  template <class... A>
  explicit share(core&, A&&... args) : box_(new detail::share_box<T>(std::forward<A>(args)...)) {}
  share(const share& o) noexcept : box_(o.box_) { ++box_->strong; }
  share(share&& o) noexcept : box_(std::exchange(o.box_, nullptr)) {}
  share& operator=(share o) noexcept {
    std::swap(box_, o.box_);
    return *this;
  }
  ~share() { release(box_); }

  share_borrow<T, true> rw(core& c) const { return share_borrow<T, true>(c, box_); }
  share_borrow<T, false> ro(core& c) const { return share_borrow<T, false>(c, box_); }

  share_weak<T> downgrade() const noexcept;
  std::uint32_t strong_count() const noexcept { return box_ ? box_->strong : 0; }
  std::uint32_t weak_count() const noexcept { return box_ ? box_->weak : 0; }

 private:
  template <class>
  friend class share_weak;
  explicit share(detail::share_box<T>* b) noexcept : box_(b) { ++box_->strong; }

  static void release(detail::share_box<T>* b) noexcept {
    if (b == nullptr || --b->strong != 0) return;
    // ~T may drop the last share_weak to this very box (a "weak self"): a weak count held
    // across it keeps the box until ~T has returned. Meanwhile upgrade() gives nothing.
    ++b->weak;
    b->value.~T();
    if (--b->weak == 0) detail::share_box<T>::free(b);
  }

  detail::share_box<T>* box_;
};

// A weak reference to a share: does not keep the value alive; `upgrade()` gives a share
// while the value exists.
template <class T>
class share_weak {
 public:
  share_weak() noexcept = default;
  share_weak(const share_weak& o) noexcept : box_(o.box_) {
    if (box_) ++box_->weak;
  }
  share_weak(share_weak&& o) noexcept : box_(std::exchange(o.box_, nullptr)) {}
  share_weak& operator=(share_weak o) noexcept {
    std::swap(box_, o.box_);
    return *this;
  }
  ~share_weak() {
    if (box_ && --box_->weak == 0 && box_->strong == 0) detail::share_box<T>::free(box_);
  }

  std::optional<share<T>> upgrade() const {
    if (box_ == nullptr || box_->strong == 0) return std::nullopt;
    return share<T>(box_);
  }
  bool expired() const noexcept { return box_ == nullptr || box_->strong == 0; }

 private:
  template <class>
  friend class share;
  explicit share_weak(detail::share_box<T>* b) noexcept : box_(b) { ++box_->weak; }

  detail::share_box<T>* box_ = nullptr;
};

template <class T>
share_weak<T> share<T>::downgrade() const noexcept {
  return share_weak<T>(box_);
}

}  // namespace stakker
