#include "store.hpp"

#include <utility>

namespace kv {

void store::set(stakker::cx<store>&, std::string key, value_ptr value, stakker::ret<void> done) {
  map_.insert_or_assign(std::move(key), std::move(value));
  stats_->keys = map_.size();
  done();
}

void store::get(stakker::cx<store>&, std::string key, stakker::ret<value_ptr> reply) {
  const auto it = map_.find(key);
  reply(it == map_.end() ? value_ptr() : it->second);
}

void store::del(stakker::cx<store>&, std::string key, stakker::ret<bool> reply) {
  const bool erased = map_.erase(key) != 0;
  stats_->keys = map_.size();
  reply(erased);
}

}  // namespace kv
