// What the key-value server counts. Written by its actors on the server's runtime thread;
// read by the loop level (main, tests) between runs.
#pragma once

#include <cstdint>

namespace kv {

struct server_stats {
  std::uint64_t connections = 0;  // accepted
  std::uint64_t requests = 0;     // commands answered (QUIT included)
  std::uint64_t rejected = 0;     // connections closed after an ERROR reply
  std::uint64_t broken = 0;       // connections ended by an I/O error or mid-command
  std::uint64_t keys = 0;         // keys in the store now
};

}  // namespace kv
