// SPDX-License-Identifier: MIT OR Apache-2.0
// Keys of the runtime's timers: fixed, max and min.
#pragma once

#include <cstdint>

namespace stakker {

namespace detail {
struct timer_key_access;
}

// Identifies one timer of one kind. A key carries a generation: once its timer has fired or
// been deleted, or its slot was reused by another timer, the key matches nothing (deleting
// it returns false). A default-constructed key matches nothing. Copyable, 8 bytes. A key is
// only meaningful with the runtime that made it.
template <class Tag>
class basic_timer_key {
 public:
  constexpr basic_timer_key() noexcept = default;
  explicit constexpr operator bool() const noexcept { return gen_ != 0; }
  friend constexpr bool operator==(basic_timer_key, basic_timer_key) noexcept = default;

 private:
  friend struct detail::timer_key_access;
  constexpr basic_timer_key(std::uint32_t slot, std::uint32_t gen) noexcept
      : slot_(slot), gen_(gen) {}
  std::uint32_t slot_ = 0;
  std::uint32_t gen_ = 0;
};

struct fixed_timer_tag;
struct max_timer_tag;
struct min_timer_tag;

// A fixed timer: fires once at the time given (`core::after`, `core::at`).
using timer_key = basic_timer_key<fixed_timer_tag>;
// A max timer: fires at the latest expiry ever given (`core::timer_max_add`).
using max_timer_key = basic_timer_key<max_timer_tag>;
// A min timer: fires at the earliest expiry given (`core::timer_min_add`).
using min_timer_key = basic_timer_key<min_timer_tag>;

static_assert(sizeof(timer_key) == 8);

namespace detail {
struct timer_key_access {
  template <class Tag>
  static constexpr basic_timer_key<Tag> make(std::uint32_t slot, std::uint32_t gen) noexcept {
    return {slot, gen};
  }
  template <class Tag>
  static constexpr std::uint32_t slot(basic_timer_key<Tag> k) noexcept {
    return k.slot_;
  }
  template <class Tag>
  static constexpr std::uint32_t gen(basic_timer_key<Tag> k) noexcept {
    return k.gen_;
  }
};
}  // namespace detail

}  // namespace stakker
