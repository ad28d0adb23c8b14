// SPDX-License-Identifier: MIT OR Apache-2.0
// nats::serve<&A::m>: an actor's member as a NATS service.
#pragma once

#include <string_view>
#include <utility>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/nats/connection.hpp"

namespace stakker::nats {

// Serves `subject` (in `queue` group if not empty) with member
// `void A::m(cx<A>&, message, ret<service_reply>)` of `target`: each request is queued as
// a call on the actor; its answer is published to the requester. A ret the actor drops (it
// failed, stopped, or forgot) publishes an error reply (service_error_header), so the
// requester hears at once. Dropping the subscription stops serving.
template <auto M, actor_handle H>
subscription serve(connection& conn, std::string_view subject, const H& target,
                   std::string_view queue = {}) {
  actor<typename H::state_type> a(target);
  return conn.serve(subject, fwd_do<service_call>([a](service_call c) {
                      call<M>(a, std::move(c.request), std::move(c.answer));
                    }),
                    queue);
}

}  // namespace stakker::nats
