// SPDX-License-Identifier: MIT OR Apache-2.0
// What a connection shares with the C client's threads (library-internal).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "stakker/core.hpp"
#include "stakker/detail/inbox.hpp"

namespace stakker::nats {
class connection;
}

namespace stakker::nats::detail {

// The closure the C client's callbacks get for a connection. Counted (atomically) by its
// holders: the connection (until destroyed), the client's connection callbacks (until the
// closed callback, the last one; or until a first connect fails, which calls none), the
// event-loop attachment (attach to detach) and each subscription's link.
//
// `self` may be used only by closures posted to `box` (they run only while the box is
// open, and the connection closes it first thing in its destructor) and on the runtime
// thread while inside a run of `home`.
struct link {
  std::atomic<int> refs{1};
  std::shared_ptr<stakker::detail::inbox> box;
  core* home = nullptr;
  connection* self = nullptr;

  // The socket as the client last described it (any thread), for sync_io.
  std::mutex m;
  int fd = -1;
  std::uint64_t gen = 0;  // counts attaches: a reconnect may reuse the number
  bool attached = false;
  bool want_read = false;
  bool want_write = false;
  bool sync_queued = false;  // a sync_io is on its way (inbox or lazy queue)

  void ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void unref() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // Whether the caller runs inside a run of the connection's runtime (its thread).
  bool on_home() const noexcept { return stakker::detail::running_core == home; }
};

// The closure of one subscription's message and completion callbacks: counted by the
// connection's entry (until unsubscribed) and by the client (until its completion
// callback, after the last message callback). Holds a count of its link.
struct sub_link {
  std::atomic<int> refs{2};
  link* l;
  std::uint64_t id;
  sub_link(link* lk, std::uint64_t i) noexcept : l(lk), id(i) { l->ref(); }
  void unref() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      l->unref();
      delete this;
    }
  }
};

}  // namespace stakker::nats::detail
