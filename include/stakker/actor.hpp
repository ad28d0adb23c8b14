// Actor handles: actor<T> refers, actor_own<T> owns, actor_own_anon owns any type.
#pragma once

#include <concepts>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "stakker/core.hpp"
#include "stakker/detail/actor_block.hpp"
#include "stakker/detail/config.hpp"

namespace stakker {

template <class T>
class actor;
template <class T>
class actor_own;
class actor_own_anon;

namespace detail {

// How an actor<T> finds its T inside the block: a fixed offset for a concrete state type,
// a function chosen at conversion time for an abstract interface (two-word handle).
template <class T, bool = std::is_abstract_v<T>>
struct state_locator {
  static T* get(actor_block* b) noexcept { return &static_cast<actor_block_of<T>*>(b)->value; }
  T* operator()(actor_block* b) const noexcept { return get(b); }
};
template <class T>
struct state_locator<T, true> {
  T* (*fn)(actor_block*) noexcept = nullptr;
  T* operator()(actor_block* b) const noexcept { return fn(b); }
};

struct actor_access;

}  // namespace detail

// A reference to an actor: copyable, one word (two for an interface `actor<I>`). It keeps
// the actor's memory, never the actor itself, alive: when the last actor_own goes the actor
// stops, and calls made through remaining references are dropped. Single-threaded.
//
// `actor<I>` for an abstract base `I` of the state type refers to an actor through an
// interface; it converts from `actor<A>` (and `actor_own<A>`) for any concrete `A` deriving
// from `I`, and calls on it invoke `I`'s (virtual) members with a `cx<I>&`.
template <class T>
class actor {
 public:
  using state_type = T;

  actor() noexcept = default;
  actor(const actor& o) noexcept : b_(o.b_), locate_(o.locate_) {
    if (b_) detail::add_ref(b_);
  }
  actor(actor&& o) noexcept : b_(std::exchange(o.b_, nullptr)), locate_(o.locate_) {}
  actor& operator=(actor o) noexcept {
    std::swap(b_, o.b_);
    std::swap(locate_, o.locate_);
    return *this;
  }
  ~actor() {
    if (b_) detail::release_ref(b_);
  }

  // Interface conversion: actor<I> from actor<A>, where A is concrete and derives from I.
  template <class D>
  requires(std::is_abstract_v<T> && !std::is_same_v<D, T> && std::derived_from<D, T>)
      actor(const actor<D>& d)
  noexcept : b_(d.b_) {
    static_assert(!std::is_abstract_v<D>,
                  "stakker::actor<I>: convert from the actor's concrete state type");
    locate_.fn = [](detail::actor_block* b) noexcept -> T* {
      return detail::state_locator<D>::get(b);
    };
    if (b_) detail::add_ref(b_);
  }
  template <class D>
  requires(std::is_abstract_v<T> && !std::is_same_v<D, T> && std::derived_from<D, T>)
      actor(const actor_own<D>& d)
  noexcept : actor(d.ref()) {}

  // Prep: created, not yet initialised; Ready: has its state; Zombie: stopped.
  bool is_prep() const noexcept { return b_ && b_->state() == detail::actor_state::prep; }
  bool is_ready() const noexcept { return b_ && b_->state() == detail::actor_state::ready; }
  bool is_zombie() const noexcept { return !b_ || b_->state() == detail::actor_state::zombie; }
  // False for a default-constructed or moved-from handle.
  explicit operator bool() const noexcept { return b_ != nullptr; }

  friend bool operator==(const actor& a, const actor& b) noexcept { return a.b_ == b.b_; }

 private:
  template <class>
  friend class actor;
  template <class>
  friend class actor_own;
  friend struct detail::actor_access;

  detail::actor_block* b_ = nullptr;
  [[no_unique_address]] detail::state_locator<T> locate_;
};

static_assert(sizeof(actor<int>) == sizeof(void*), "an actor reference is one word");

namespace detail {

// Library-internal access to handles.
struct actor_access {
  template <class T>
  static actor_block* block(const actor<T>& a) noexcept {
    return a.b_;
  }
  template <class T>
  static T* state(const actor<T>& a) noexcept {
    return a.locate_(a.b_);
  }
  // Takes over one reference already counted in `b`.
  template <class T>
  static actor<T> adopt(actor_block* b) noexcept {
    actor<T> a;
    a.b_ = b;
    return a;
  }
  // Gives up the handle's reference, returning the block.
  template <class T>
  static actor_block* release(actor<T>& a) noexcept {
    return std::exchange(a.b_, nullptr);
  }
};

}  // namespace detail

// The owning handle: while at least one actor_own exists the actor lives. Destroying the
// last one stops the actor with stop_cause::dropped; the stop is queued (never run inside
// the destructor). Move-only; `owned()` makes another owner explicitly.
template <class T>
class actor_own {
 public:
  using state_type = T;

  actor_own() noexcept = default;
  actor_own(actor_own&& o) noexcept = default;
  actor_own& operator=(actor_own&& o) noexcept {
    if (this != &o) {
      reset();
      ref_ = std::move(o.ref_);
    }
    return *this;
  }
  ~actor_own() { reset(); }

  // Another owning handle to the same actor. Throws std::length_error past 2^24-1 owners.
  actor_own owned() const {
    STAKKER_ASSERT(ref_.b_ != nullptr, "actor_own::owned on an empty handle");
    detail::add_owner(ref_.b_);
    actor_own o;
    o.ref_ = ref_;
    return o;
  }

  // Gives up ownership now (the actor stops with `dropped` if this was the last owner).
  void reset() noexcept {
    if (ref_.b_) detail::release_owner(detail::actor_access::release(ref_));
  }

  // Stops the actor with stop_cause::killed(error): immediately, unless the actor's own call
  // is running (then when that call returns). Ignored if the actor already stopped.
  void kill(std::exception_ptr error) {
    STAKKER_ASSERT(ref_.b_ != nullptr, "actor_own::kill on an empty handle");
    if (core* c = ref_.b_->link->rt)
      detail::terminate(*c, ref_.b_, stop_cause::killed(std::move(error)));
  }
  void kill(std::string_view message) { kill(make_error(message)); }

  const actor<T>& ref() const noexcept { return ref_; }
  operator const actor<T>&() const noexcept { return ref_; }

  bool is_prep() const noexcept { return ref_.is_prep(); }
  bool is_ready() const noexcept { return ref_.is_ready(); }
  bool is_zombie() const noexcept { return ref_.is_zombie(); }
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }

  // Type-erases the ownership (the only operation left is destruction).
  actor_own_anon anon() && noexcept;

 private:
  template <class A>
  friend actor_own<A> actor_new(core& c, ret<stop_cause> notify);

  actor<T> ref_;
};

// An owning handle of any actor type; destroying it drops ownership like actor_own.
class actor_own_anon {
 public:
  actor_own_anon() noexcept = default;
  template <class T>
  actor_own_anon(actor_own<T>&& o) noexcept : actor_own_anon(std::move(o).anon()) {}
  actor_own_anon(actor_own_anon&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  actor_own_anon& operator=(actor_own_anon&& o) noexcept {
    if (this != &o) {
      reset();
      b_ = std::exchange(o.b_, nullptr);
    }
    return *this;
  }
  ~actor_own_anon() { reset(); }

  void reset() noexcept {
    if (b_) detail::release_owner(std::exchange(b_, nullptr));
  }
  bool is_zombie() const noexcept { return !b_ || b_->state() == detail::actor_state::zombie; }
  explicit operator bool() const noexcept { return b_ != nullptr; }

 private:
  template <class>
  friend class actor_own;
  explicit actor_own_anon(detail::actor_block* b) noexcept : b_(b) {}

  detail::actor_block* b_ = nullptr;
};

template <class T>
actor_own_anon actor_own<T>::anon() && noexcept {
  return actor_own_anon(detail::actor_access::release(ref_));
}

// Creates an actor in Prep, with no state yet. Calls to it are parked until a Prep call
// (see call_prep) installs its state. `notify` is called exactly once, with the stop cause,
// when the actor terminates. The actor's memory (40 bytes plus the state) comes from the
// runtime's block pool: no malloc once warm.
template <class A>
actor_own<A> actor_new(core& c, ret<stop_cause> notify) {
  static_assert(std::is_class_v<A> && !std::is_abstract_v<A>,
                "stakker::actor_new: the state type must be a concrete class");
  using block = detail::actor_block_of<A>;
  detail::runtime_link* link = detail::core_access::link(c);
  auto* b = ::new (link->pool.allocate(sizeof(block), alignof(block))) block();
  b->refs = 1;
  b->owners = 1;
  b->set_state(detail::actor_state::prep);
  b->link = link;
  link->add_ref();
  b->ops = &block::ops_fn;
  b->notify = std::move(notify);
  actor_own<A> own;
  own.ref_ = detail::actor_access::adopt<A>(b);
  return own;
}

// The actor<T> inside any actor handle (for generic code).
template <class T>
const actor<T>& as_actor(const actor<T>& a) noexcept {
  return a;
}
template <class T>
const actor<T>& as_actor(const actor_own<T>& a) noexcept {
  return a.ref();
}

// Anything that refers to an actor: actor<T> or actor_own<T>.
template <class H>
concept actor_handle = requires(const H& h) {
  typename H::state_type;
  { as_actor(h) } -> std::same_as<const actor<typename H::state_type>&>;
};

}  // namespace stakker
