// SPDX-License-Identifier: MIT OR Apache-2.0
// drain: the end of a runtime driven by an io_loop, once its actors are dropped.
#pragma once

#include "stakker/asio/io_loop.hpp"

namespace kv {

// Runs the runtime and its io_context until neither has anything ready: actors the caller
// dropped stop, their tasks are destroyed, and the operations they cancelled finish
// (operation_aborted) through the runtime's queue. Call it after io_loop::run has returned
// and the actors are dropped, so that those operations end while the buffers they use still
// exist (docs/asio.md, "Buffers of cancelled operations").
inline void drain(stakker::asio::io_loop& loop) {
  loop.context().restart();
  loop.request_run();
  while (loop.context().poll() != 0) {
  }
}

}  // namespace kv
