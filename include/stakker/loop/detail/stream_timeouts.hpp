// SPDX-License-Identifier: MIT OR Apache-2.0
// stream_timeouts: the deadlines of one tcp_stream, kept on one lazily armed runtime timer.
#pragma once

#include <memory>
#include <optional>

#include "stakker/core.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/export.hpp"
#include "stakker/time.hpp"
#include "stakker/timer_key.hpp"

namespace stakker::loop::detail {

// One fixed timer per stream, armed at the earliest deadline. Activity only stores a
// time (a clock::now() read, no timer operation); when the timer fires early because of
// activity since, it re-arms itself at the new earliest deadline. A deadline that comes
// nearer than the armed one (a read timeout starting, say) re-arms it at once. Once one
// passes, `expired` is set and the stream's `ready` is called (EPOLLERR); the stream
// fails on its next read() or flush(). Shared by the stream and its timer closure; the
// stream deletes the timer when it goes (while its loop, hence the runtime, exists).
struct STAKKER_LOOP_EXPORT stream_timeouts : std::enable_shared_from_this<stream_timeouts> {
  core* rt = nullptr;
  fd_notifier wake;
  duration idle{}, read{}, closing{};
  instant last_activity{};
  std::optional<instant> input_since, closing_since;
  instant armed = instant::max();  // the armed timer's expiry (max: none)
  timer_key key;
  bool expired = false;
  bool dead = false;  // the stream is gone

  // The earliest active deadline (instant::max() if none).
  instant deadline() const noexcept;
  // Arms the timer at `t` unless it is armed for an earlier time already.
  void arm_by(instant t);
  // The timer's work: expire or re-arm.
  void fire(core& c);
  // The stream is going: no more wake-ups, and the pending timer is deleted if
  // `runtime_alive`.
  void cancel(bool runtime_alive) noexcept;
};

}  // namespace stakker::loop::detail
