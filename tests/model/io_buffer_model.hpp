// SPDX-License-Identifier: MIT OR Apache-2.0
// A model of loop::detail::io_buffer: a std::string holding the same content. Random
// prepare/commit, append, consume, clear, release and moves, after each of which the
// buffer's data() must equal the string. Used by the model test (PRNG) and the fuzz target.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include "model/failure.hpp"
#include "stakker/loop/detail/io_buffer.hpp"

namespace stakker::model {

template <class Choices>
class io_buffer_driver {
 public:
  using buffer = stakker::loop::detail::io_buffer;

  // Sizes up to about 3 * 4096 bytes, so that compaction and growth both happen often.
  static constexpr std::int64_t max_chunk = 12'000;

  // Once the buffer holds more than `bound` bytes, additions turn into consumes.
  explicit io_buffer_driver(Choices& c, std::size_t bound = 32 * 1024) : c_(c), bound_(bound) {}

  const buffer& buf() const noexcept { return buf_; }
  const std::string& expected() const noexcept { return model_; }

  // One random operation; empty if the buffer still matches the model.
  std::string step() {
    std::int64_t op = c_.below(16);
    if (model_.size() > bound_ && op < 8) op = 8 + op % 4;
    if (op < 4) {  // prepare, write part of the span, commit that much (a read from a socket)
      const auto min = static_cast<std::size_t>(pick_size());
      std::span<char> room = buf_.prepare(min);
      if (room.size() < min) return failure("prepare(", min, ") gave ", room.size(), " bytes");
      const auto n = static_cast<std::size_t>(
          c_.in(0, std::min(static_cast<std::int64_t>(room.size()), max_chunk)));
      const std::string bytes = content(n);
      if (n != 0) std::memcpy(room.data(), bytes.data(), n);  // room may be null when n is 0
      buf_.commit(n);
      model_ += bytes;
    } else if (op < 8) {
      const std::string bytes = content(static_cast<std::size_t>(pick_size()));
      buf_.append(bytes);
      model_ += bytes;
    } else if (op < 12) {  // consume a prefix: often a whole line, sometimes all or too much
      std::size_t n;
      const std::int64_t how = c_.below(8);
      const std::size_t nl = model_.find('\n');
      if (how < 3 && nl != std::string::npos) {
        n = nl + 1;
      } else if (how < 5) {
        n = model_.size();
      } else if (how < 6) {
        n = model_.size() + static_cast<std::size_t>(c_.in(1, 3));
      } else {
        n = static_cast<std::size_t>(c_.in(0, static_cast<std::int64_t>(model_.size())));
      }
      if (n > model_.size()) {
        try {
          buf_.consume(n);
          return failure("consume(", n, ") past the end (size ", model_.size(), ") did not throw");
        } catch (const std::out_of_range&) {
        }
      } else {
        buf_.consume(n);
        model_.erase(0, n);
      }
    } else if (op < 13) {
      buf_.clear();
      model_.clear();
    } else if (op < 14) {
      buf_.release_if_empty();
      if (model_.empty() && buf_.capacity() != 0)
        return failure("release_if_empty kept ", buf_.capacity(), " bytes of an empty buffer");
    } else if (op < 15) {  // move out and back, through a second buffer
      buffer other(std::move(buf_));
      if (!buf_.empty() || buf_.capacity() != 0)
        return failure("a moved-from buffer keeps ", buf_.size(), " bytes");
      buf_ = std::move(other);
    } else {  // a commit of nothing, and a prepare of nothing
      buf_.commit(0);
      (void)buf_.prepare(0);
    }
    return check();
  }

  // Whether the buffer holds exactly the model's bytes.
  std::string check() const {
    if (buf_.size() != model_.size() || buf_.data() != model_)
      return failure("io_buffer holds ", buf_.size(), " bytes, the model ", model_.size());
    if (buf_.empty() != model_.empty()) return failure("empty() disagrees");
    if (buf_.capacity() < buf_.size()) return failure("capacity below size");
    return {};
  }

 private:
  std::int64_t pick_size() {
    const std::int64_t p = c_.below(8);
    if (p < 4) return c_.in(0, 64);
    if (p < 7) return c_.in(0, 5000);
    return c_.in(0, max_chunk);
  }

  // The next `n` bytes of a fixed text whose lines are 1 to 200 bytes long ('\n' included).
  std::string content(std::size_t n) {
    static const std::string text = [] {
      std::string t(pattern_bytes, 'x');
      std::uint32_t lcg = 1;
      for (std::size_t i = 0, line = 0; i < t.size(); ++i) {
        if (line == 0) {
          lcg = lcg * 1664525u + 1013904223u;
          line = 1 + (lcg >> 16) % 200;
        }
        t[i] = --line == 0 ? '\n' : static_cast<char>('a' + i % 26);
      }
      return t;
    }();
    std::string s;
    s.reserve(n);
    while (s.size() < n) {
      const std::size_t take = std::min(n - s.size(), text.size() - offset_);
      s.append(text, offset_, take);
      offset_ = (offset_ + take) % text.size();
    }
    return s;
  }

  Choices& c_;
  std::size_t bound_;
  buffer buf_;
  std::string model_;
  static constexpr std::size_t pattern_bytes = 1 << 16;
  std::size_t offset_ = 0;
};

}  // namespace stakker::model
