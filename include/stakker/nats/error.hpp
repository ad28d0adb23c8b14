// SPDX-License-Identifier: MIT OR Apache-2.0
// nats::error: what the NATS client refused, with its status and the client's own words.
#pragma once

#include <stdexcept>
#include <string>

#include <nats/nats.h>

#include "stakker/nats/export.hpp"

namespace stakker::nats {

// Thrown by the connection's calls on bad input or a connection that cannot take them, and
// carried (as the exception of a coro::actor_fail) by answers that failed: a request that
// timed out or found no responders, a connect that was refused. `status()` is the C
// client's natsStatus (NATS_TIMEOUT, NATS_NO_RESPONDERS, NATS_CONNECTION_CLOSED, ...).
class STAKKER_NATS_EXPORT error : public std::runtime_error {
 public:
  error(natsStatus status, const std::string& what);
  natsStatus status() const noexcept { return status_; }

 private:
  natsStatus status_;
};

}  // namespace stakker::nats
