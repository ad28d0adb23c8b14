// SPDX-License-Identifier: MIT OR Apache-2.0
// nats::message: one received message (subject, reply subject, payload, headers).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nats/nats.h>

#include "stakker/nats/export.hpp"

namespace stakker::nats {

// Headers to send: name and value pairs, in order (a name may repeat).
using headers = std::vector<std::pair<std::string, std::string>>;

// A received message. Owns the C client's natsMsg; move-only; the views it hands out live
// as long as it does. Any thread may destroy it.
class STAKKER_NATS_EXPORT message {
 public:
  message() noexcept = default;
  // Takes ownership of `m` (may be null: an empty message).
  explicit message(natsMsg* m) noexcept : m_(m) {}

  std::string_view subject() const noexcept;
  // The subject to answer to; empty when the sender expects no answer.
  std::string_view reply() const noexcept;
  // The payload.
  std::string_view data() const noexcept;
  std::span<const std::byte> bytes() const noexcept;
  // The first value of header `name`, if present.
  std::optional<std::string_view> header(const std::string& name) const;
  // Every value of header `name` (empty if absent).
  std::vector<std::string_view> header_values(const std::string& name) const;
  // Every header name.
  std::vector<std::string_view> header_names() const;

  explicit operator bool() const noexcept { return m_ != nullptr; }
  // The C client's message (still owned by this object).
  natsMsg* native() const noexcept { return m_.get(); }
  // Gives up ownership.
  natsMsg* release() noexcept { return m_.release(); }

 private:
  struct destroy {
    void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
  };
  std::unique_ptr<natsMsg, destroy> m_;
};

}  // namespace stakker::nats
