// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/byte_budget.hpp"

#include <sys/epoll.h>

#include <cstddef>
#include <stdexcept>
#include <utility>

namespace stakker::loop {

void byte_budget::give(std::size_t n) {
  if (n > used_) throw std::logic_error("stakker::loop::byte_budget: more given back than taken");
  used_ -= n;
  if (n == 0 || waiting_.empty()) return;
  // Every waiter retries in the loop's next turn; those that find no room wait again.
  std::vector<fd_notifier> woken = std::move(waiting_);
  waiting_.clear();
  for (std::size_t i = 0; i < woken.size(); ++i) {
    try {
      woken[i](EPOLLIN);
    } catch (...) {
      // Out of memory queueing readiness: the rest keep waiting for the next give().
      woken.erase(woken.begin(), woken.begin() + static_cast<std::ptrdiff_t>(i));
      waiting_ = std::move(woken);  // no allocation
      return;
    }
  }
}

void byte_budget::wait(fd_notifier ready) {
  if (ready.live()) waiting_.push_back(std::move(ready));
}

}  // namespace stakker::loop
