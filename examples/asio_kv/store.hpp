// store: the key-value map, one actor on the server's runtime.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "server_stats.hpp"
#include "stakker/stakker.hpp"

namespace kv {

// A stored value: immutable and shared, so a GET hands out a reference rather than a copy
// of up to 64 MiB, and a reply being written keeps its value alive even if the key is
// overwritten or deleted meanwhile.
using value_ptr = std::shared_ptr<const std::string>;

// Connections ask it through queued calls (from their tasks: stakker::coro::query), so
// requests from all connections are applied one at a time, in the order they arrive on the
// runtime's queue; each answer comes back through the request's ret.
class store {
 public:
  static store init(stakker::cx<store>&, server_stats* stats) { return store(stats); }

  void set(stakker::cx<store>&, std::string key, value_ptr value, stakker::ret<void> done);
  // Answers the value, or a null pointer if there is no such key.
  void get(stakker::cx<store>&, std::string key, stakker::ret<value_ptr> reply);
  // Answers whether the key was there.
  void del(stakker::cx<store>&, std::string key, stakker::ret<bool> reply);

 private:
  explicit store(server_stats* stats) : stats_(stats) {}

  std::unordered_map<std::string, value_ptr> map_;
  server_stats* stats_;
};

}  // namespace kv
