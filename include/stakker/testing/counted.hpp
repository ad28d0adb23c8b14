// SPDX-License-Identifier: MIT OR Apache-2.0
// A counting type for lifetime tests: every instance constructed must be destroyed once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace stakker::testing {

// Counts constructions (of any kind) and destructions of `counted` objects that share it.
struct counts {
  long constructed = 0;
  long destroyed = 0;
  long copied = 0;
  long moved = 0;
  long double_destroys = 0;  // destructor run on an already destroyed object
  long alive() const noexcept { return constructed - destroyed; }
  // True when every instance was destroyed exactly once.
  bool balanced() const noexcept { return alive() == 0 && double_destroys == 0; }
};

// Copyable, movable, not trivially relocatable (it points to itself), so a container
// that moves it bytewise is caught: the self pointer would then be wrong.
class counted {
 public:
  explicit counted(counts& c, int value = 0) noexcept : c_(&c), self_(this), value_(value) {
    ++c_->constructed;
  }
  counted(const counted& o) noexcept : c_(o.c_), self_(this), value_(o.value_) {
    o.check();
    ++c_->constructed;
    ++c_->copied;
  }
  counted(counted&& o) noexcept : c_(o.c_), self_(this), value_(o.value_) {
    o.check();
    ++c_->constructed;
    ++c_->moved;
  }
  counted& operator=(const counted& o) noexcept {
    check();
    o.check();
    value_ = o.value_;
    return *this;
  }
  ~counted() {
    if (magic_ != live_magic) {
      ++c_->double_destroys;
      return;
    }
    check();
    magic_ = dead_magic;
    ++c_->destroyed;
  }

  int value() const noexcept {
    check();
    return value_;
  }

 private:
  static constexpr std::uint32_t live_magic = 0xC0C0A11Eu;
  static constexpr std::uint32_t dead_magic = 0xDEADC0DEu;
  void check() const noexcept {
    if (magic_ != live_magic || self_ != this) {
      std::fprintf(stderr, "stakker::testing::counted: used after destruction or moved bytewise\n");
      std::abort();
    }
  }

  counts* c_;
  const counted* self_;
  int value_;
  std::uint32_t magic_ = live_magic;
};

}  // namespace stakker::testing
