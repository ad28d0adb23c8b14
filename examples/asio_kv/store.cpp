// SPDX-License-Identifier: MIT OR Apache-2.0
#include "store.hpp"

#include <utility>

namespace kv {

void store::set(std::string key, value_ptr value) {
  map_.insert_or_assign(std::move(key), std::move(value));
  stats_->keys = map_.size();
}

value_ptr store::get(const std::string& key) const {
  const auto it = map_.find(key);
  return it == map_.end() ? value_ptr() : it->second;
}

bool store::del(const std::string& key) {
  const bool erased = map_.erase(key) != 0;
  stats_->keys = map_.size();
  return erased;
}

}  // namespace kv
