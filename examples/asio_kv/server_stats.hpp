// SPDX-License-Identifier: MIT OR Apache-2.0
// What the key-value server counts. Written by its actors on the server's runtime thread;
// read by the loop level (main, tests) between runs.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace kv {

struct server_stats {
  std::uint64_t connections = 0;  // accepted
  std::uint64_t requests = 0;     // commands answered (QUIT included)
  std::uint64_t rejected = 0;     // connections closed after an ERROR reply
  std::uint64_t broken = 0;       // connections ended by an I/O error or mid-command
  std::uint64_t keys = 0;         // keys in the store now
  std::uint64_t refused = 0;      // connections turned away at max_connections
  std::uint64_t timed_out = 0;    // connections closed by a timeout (counted in broken too)
};

// What the server allows its clients (see server::init_limited).
struct server_limits {
  std::size_t max_connections = 10'000;  // more are told "ERROR busy" and closed
  // Value bytes being received, all connections together: memory is taken as the bytes
  // arrive (never for a length only declared), and a SET that would pass this is refused.
  std::size_t total_input = std::size_t{256} << 20;
  std::chrono::nanoseconds idle_timeout = std::chrono::minutes(5);  // waiting for a command
  std::chrono::nanoseconds io_timeout = std::chrono::seconds(30);   // a value, or a reply
};

}  // namespace kv
