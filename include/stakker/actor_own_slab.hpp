// SPDX-License-Identifier: MIT OR Apache-2.0
// actor_own_slab<A>: a set of owned children that removes each child when it stops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <utility>
#include <vector>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/deferrer.hpp"
#include "stakker/ret.hpp"

namespace stakker {

// Owns a varying set of child actors, typically as a member of the parent's state. When a
// child stops, its entry is removed by a queued closure (never while the parent iterates),
// then the notify given at `add` hears the cause. Destroying the slab drops every child
// (they stop with `dropped`). Iterating gives `const actor_own<A>&`.
//
// Adding while iterating is allowed (replacing stopped children inside a loop over the
// slab is natural): entries never move, so iterators and references stay valid; a child
// added meanwhile may or may not be visited by that loop.
template <class A>
class actor_own_slab {
  struct control {
    std::uint32_t refs = 1;
    bool alive = true;
    std::deque<actor_own<A>> slots;  // a deque: adding never moves an entry
    std::vector<std::uint32_t> free;
    std::size_t count = 0;
  };
  // A counted reference to the control, held by each child's removal callback.
  struct control_ref {
    control* c;
    explicit control_ref(control* p) noexcept : c(p) { ++c->refs; }
    control_ref(const control_ref& o) noexcept : control_ref(o.c) {}
    control_ref& operator=(const control_ref&) = delete;
    ~control_ref() { release(c); }
  };

 public:
  actor_own_slab() : ctl_(new control) {}
  actor_own_slab(const actor_own_slab&) = delete;
  actor_own_slab& operator=(const actor_own_slab&) = delete;
  ~actor_own_slab() {
    ctl_->alive = false;
    ctl_->count = 0;
    std::deque<actor_own<A>> children = std::move(ctl_->slots);
    children.clear();
    release(ctl_);
  }

  // Creates a child in Prep (initialise it with call_prep) and returns a reference to it.
  actor<A> add(core& c, ret<stop_cause> notify) {
    std::uint32_t slot = take_slot();
    auto removal = [ctl = control_ref(ctl_), slot, d = c.get_deferrer(),
                    notify = std::move(notify)](std::optional<stop_cause> cause) mutable {
      stop_cause why = cause ? std::move(*cause) : stop_cause::dropped();
      d.defer([ctl, slot, why = std::move(why), notify = std::move(notify)](core&) mutable {
        if (ctl.c->alive) {
          ctl.c->slots[slot].reset();
          ctl.c->free.push_back(slot);
          --ctl.c->count;
        }
        if (notify) notify(std::move(why));
      });
    };
    ctl_->slots[slot] = actor_new<A>(c, ret<stop_cause>(std::move(removal)));
    ++ctl_->count;
    return ctl_->slots[slot].ref();
  }

  // Creates a child and queues its init (as make_actor).
  template <auto Init, class... Args>
  actor<A> make(core& c, ret<stop_cause> notify, Args&&... args) {
    actor<A> child = add(c, std::move(notify));
    call_prep<Init>(child, std::forward<Args>(args)...);
    return child;
  }

  std::size_t size() const noexcept { return ctl_->count; }
  bool empty() const noexcept { return ctl_->count == 0; }

  // Visits the slots by index (a deque's iterators would not survive an add), skipping
  // empty ones. A range-for takes end() once, so it stops at the slots there were when it
  // began; slots added meanwhile are filled at once, so it cannot skip past that end.
  class iterator {
   public:
    using value_type = actor_own<A>;
    using difference_type = std::ptrdiff_t;
    using reference = const actor_own<A>&;
    using pointer = const actor_own<A>*;
    using iterator_category = std::forward_iterator_tag;

    iterator() = default;
    reference operator*() const { return ctl_->slots[i_]; }
    pointer operator->() const { return &ctl_->slots[i_]; }
    iterator& operator++() {
      ++i_;
      skip();
      return *this;
    }
    iterator operator++(int) {
      iterator t = *this;
      ++*this;
      return t;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.i_ == b.i_; }

   private:
    friend class actor_own_slab;
    iterator(const control* c, std::size_t i) : ctl_(c), i_(i) { skip(); }
    void skip() {
      while (i_ < ctl_->slots.size() && !ctl_->slots[i_]) ++i_;
    }
    const control* ctl_ = nullptr;
    std::size_t i_ = 0;
  };
  iterator begin() const { return iterator(ctl_, 0); }
  iterator end() const { return iterator(ctl_, ctl_->slots.size()); }

 private:
  static void release(control* c) noexcept {
    if (--c->refs == 0) delete c;
  }
  std::uint32_t take_slot() {
    if (!ctl_->free.empty()) {
      std::uint32_t s = ctl_->free.back();
      ctl_->free.pop_back();
      return s;
    }
    ctl_->slots.emplace_back();
    return static_cast<std::uint32_t>(ctl_->slots.size() - 1);
  }

  control* ctl_;
};

}  // namespace stakker
