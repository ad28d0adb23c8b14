// SPDX-License-Identifier: MIT OR Apache-2.0
// Queue work onto a runtime from places without a core (destructors, shared objects).
#pragma once

#include <type_traits>
#include <utility>

#include "stakker/core.hpp"

namespace stakker {

// A copyable handle to a runtime's main queue. Holds a count on the runtime's link, not on
// the runtime: once the runtime is destroyed, `defer` destroys the closure without running
// it. Single-threaded like the runtime (the count is not atomic).
class deferrer {
 public:
  deferrer() noexcept = default;
  explicit deferrer(detail::runtime_link* l) noexcept : link_(l) {
    if (link_) link_->add_ref();
  }
  deferrer(const deferrer& o) noexcept : deferrer(o.link_) {}
  deferrer(deferrer&& o) noexcept : link_(std::exchange(o.link_, nullptr)) {}
  deferrer& operator=(deferrer o) noexcept {
    std::swap(link_, o.link_);
    return *this;
  }
  ~deferrer() {
    if (link_) link_->release();
  }

  // Queues `f(core&)` on the main queue. Returns false (and destroys `f` unrun) if the
  // runtime is gone or the deferrer is empty.
  template <class F>
  bool defer(F&& f) const {
    static_assert(std::is_invocable_v<std::decay_t<F>&, core&>,
                  "stakker::deferrer::defer: the closure must be callable as f(core&)");
    if (link_ == nullptr || link_->rt == nullptr) {
      // Consume an rvalue closure as a queue push would, so its captures go now.
      if constexpr (!std::is_lvalue_reference_v<F>) {
        [[maybe_unused]] std::decay_t<F> dropped(std::move(f));
      }
      return false;
    }
    link_->rt->defer(std::forward<F>(f));
    return true;
  }

  // True while the runtime exists.
  bool alive() const noexcept { return link_ != nullptr && link_->rt != nullptr; }

 private:
  detail::runtime_link* link_ = nullptr;
};

inline deferrer core::get_deferrer() noexcept { return deferrer(link_); }

}  // namespace stakker
