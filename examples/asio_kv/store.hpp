// SPDX-License-Identifier: MIT OR Apache-2.0
// store: the key-value map, shared by the server's connections on its runtime.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "server_stats.hpp"

namespace kv {

// A stored value: immutable and shared, so a GET hands out a reference rather than a copy
// of up to 64 MiB, and a reply being written keeps its value alive even if the key is
// overwritten or deleted meanwhile.
using value_ptr = std::shared_ptr<const std::string>;

// Plain state, shared by the connections of one runtime through a stakker::share<store>
// (borrowed for one call at a time, on the runtime's thread): requests from all connections
// are applied one at a time, in the order their tasks run.
class store {
 public:
  explicit store(server_stats* stats) : stats_(stats) {}

  void set(std::string key, value_ptr value);
  // The value, or a null pointer if there is no such key.
  value_ptr get(const std::string& key) const;
  // Whether the key was there.
  bool del(const std::string& key);

 private:
  std::unordered_map<std::string, value_ptr> map_;
  server_stats* stats_;
};

}  // namespace kv
