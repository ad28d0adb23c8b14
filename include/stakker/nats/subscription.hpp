// SPDX-License-Identifier: MIT OR Apache-2.0
// nats::subscription: the handle that keeps a subscription (dropping it unsubscribes).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "stakker/nats/export.hpp"

namespace stakker::nats {

class connection;

// Made by connection::subscribe (and serve). While it exists, messages on its subject reach
// its fwd<message> on the runtime thread, in the order the server sent them. Destroying it
// (or reset) unsubscribes: nothing reaches the fwd afterwards, not even messages already
// received. Move-only; runtime thread only; may outlive its connection (it then does
// nothing).
class STAKKER_NATS_EXPORT subscription {
 public:
  subscription() noexcept = default;
  subscription(subscription&& o) noexcept
      : conn_(std::move(o.conn_)), id_(std::exchange(o.id_, 0)) {}
  subscription& operator=(subscription&& o) noexcept {
    if (this != &o) {
      reset();
      conn_ = std::move(o.conn_);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { reset(); }

  // Unsubscribes now.
  void reset() noexcept;
  // Whether it still holds a subscription of a live connection.
  explicit operator bool() const noexcept;
  // Messages received for it that the runtime has not yet delivered (0 once reset).
  int pending() const noexcept;

 private:
  friend class connection;
  subscription(std::weak_ptr<connection> c, std::uint64_t id) noexcept
      : conn_(std::move(c)), id_(id) {}
  std::weak_ptr<connection> conn_;
  std::uint64_t id_ = 0;
};

}  // namespace stakker::nats
