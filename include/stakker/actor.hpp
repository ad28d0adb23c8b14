// SPDX-License-Identifier: MIT OR Apache-2.0
// Actor handles: actor<T> refers, actor_own<T> owns, actor_own_anon owns any type.
#pragma once

#include <concepts>
#include <cstddef>
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

struct actor_access;

// D is a state type behind interface I (I abstract, D derived from it). Checked in this
// order so that a handle of an incomplete type never asks whether it is abstract.
template <class D, class I>
concept implements = !std::is_same_v<D, I> && std::is_abstract_v<I> && std::derived_from<D, I>;

// Downcasting from a virtual base is ill-formed, so this holds for non-virtual bases only.
template <class D, class I>
concept non_virtual_base = requires(I* p) {
  static_cast<D*>(p);
};

}  // namespace detail

// A reference to an actor: copyable, one word. It keeps
// the actor's memory, never the actor itself, alive: when the last actor_own goes the actor
// stops, and calls made through remaining references are dropped. Single-threaded.
//
// `actor<I>` for an abstract base `I` of the state type refers to an actor through an
// interface; it converts from `actor<A>` (and `actor_own<A>`) for any concrete `A` deriving
// from `I` (a non-virtual base less than 128 bytes into A), and calls on it invoke `I`'s
// (virtual) members with a `cx<I>&`. T may be incomplete where actor<T> is declared, so an
// actor's state can hold references to actors of its own type.
template <class T>
class actor {
 public:
  using state_type = T;

  actor() noexcept = default;
  actor(const actor& o) noexcept : bits_(o.bits_) {
    if (auto* b = block()) detail::add_ref(b);
  }
  actor(actor&& o) noexcept : bits_(std::exchange(o.bits_, 0)) {}
  actor& operator=(actor o) noexcept {
    std::swap(bits_, o.bits_);
    return *this;
  }
  ~actor() {
    if (auto* b = block()) detail::release_ref(b);
  }

  // Interface conversion: actor<I> from actor<A>, where A is concrete and derives from I.
  template <detail::implements<T> D>
  actor(const actor<D>& d) : bits_(d.bits_ | base_offset<D>()) {
    static_assert(!std::is_abstract_v<D>,
                  "stakker::actor<I>: convert from the actor's concrete state type");
    static_assert(detail::non_virtual_base<D, T>,
                  "stakker::actor<I>: I must be a non-virtual base of the state type (a virtual "
                  "base has no fixed offset inside it)");
    if (auto* b = block()) detail::add_ref(b);
  }
  template <detail::implements<T> D>
  actor(const actor_own<D>& d) : actor(d.ref()) {}

  // Prep: created, not yet initialised; Ready: has its state; Zombie: stopped.
  bool is_prep() const noexcept { return state_is(detail::actor_state::prep); }
  bool is_ready() const noexcept { return state_is(detail::actor_state::ready); }
  bool is_zombie() const noexcept { return bits_ == 0 || state_is(detail::actor_state::zombie); }
  // False for a default-constructed or moved-from handle.
  explicit operator bool() const noexcept { return bits_ != 0; }

  // The actor's id: numbered from 1 in its runtime, in order of creation, and the same for
  // its whole life (contract O1); 0 for an empty handle.
  std::uint64_t id() const noexcept { return bits_ == 0 ? 0 : block()->id; }
  // The name of the actor's concrete state type ("chat::room"); empty for an empty handle.
  std::string_view type_name() const noexcept {
    return bits_ == 0 ? std::string_view() : std::string_view(block()->type_name());
  }

  friend bool operator==(const actor& a, const actor& b) noexcept { return a.block() == b.block(); }

 private:
  template <class>
  friend class actor;
  template <class>
  friend class actor_own;
  friend struct detail::actor_access;

  // Blocks are 16-byte aligned; an interface handle keeps the offset of I inside the state
  // (in units of 8 bytes) in the low 4 bits. A concrete handle's low bits are always zero.
  static constexpr std::uintptr_t tag_mask = 15;

  detail::actor_block* block() const noexcept {
    if constexpr (std::is_abstract_v<T>)
      return reinterpret_cast<detail::actor_block*>(bits_ & ~tag_mask);
    else
      return reinterpret_cast<detail::actor_block*>(bits_);
  }
  bool state_is(detail::actor_state s) const noexcept {
    return bits_ != 0 && block()->state() == s;
  }
  T* state_ptr() const noexcept {
    detail::actor_block* b = block();
    if constexpr (std::is_abstract_v<T>) {
      auto* state = static_cast<std::byte*>(b->ops(b, detail::block_op::state));
      return std::launder(reinterpret_cast<T*>(state + (bits_ & tag_mask) * 8));
    } else {
      return &static_cast<detail::actor_block_of<T>*>(b)->value;
    }
  }
  // Where the T base lies inside a D, in units of 8 bytes (pointer arithmetic only: the
  // cast to a non-virtual base reads nothing from the object).
  template <class D>
  static std::uintptr_t base_offset() {
    alignas(D) static const std::byte probe[sizeof(D)]{};
    const D* d = reinterpret_cast<const D*>(probe);
    auto offset = reinterpret_cast<const std::byte*>(static_cast<const T*>(d)) - probe;
    if (offset < 0 || offset % 8 != 0 || offset / 8 > static_cast<std::ptrdiff_t>(tag_mask))
      throw std::logic_error(
          "stakker::actor<I>: I must be a non-virtual base within 120 bytes of the start of "
          "the state type");
    return static_cast<std::uintptr_t>(offset / 8);
  }

  std::uintptr_t bits_ = 0;
};

static_assert(sizeof(actor<int>) == sizeof(void*), "an actor reference is one word");

namespace detail {

// Counts a new actor of its type (metrics on).
STAKKER_EXPORT void observed_created(core& c, actor_block* b) noexcept;

// Library-internal access to handles.
struct actor_access {
  template <class T>
  static actor_block* block(const actor<T>& a) noexcept {
    return a.block();
  }
  template <class T>
  static T* state(const actor<T>& a) noexcept {
    return a.state_ptr();
  }
  // Takes over one reference already counted in `b` (a concrete handle).
  template <class T>
  static actor<T> adopt(actor_block* b) noexcept {
    actor<T> a;
    a.bits_ = reinterpret_cast<std::uintptr_t>(b);
    return a;
  }
  // A second handle to the same actor that does not count: the caller guarantees that
  // exactly one of the two is later forgotten.
  template <class T>
  static actor<T> alias(const actor<T>& a) noexcept {
    actor<T> b;
    b.bits_ = a.bits_;
    return b;
  }
  // A counted copy of a handle known not to be empty (no test for an empty one).
  template <class T>
  static actor<T> copy_nonempty(const actor<T>& a) noexcept {
    const std::uintptr_t bits = a.bits_;  // read before the copy is written (it may alias)
    actor<T> b;
    b.bits_ = bits;
    add_ref(b.block());
    return b;
  }
  // Empties a handle without dropping its reference (it was handed over).
  template <class T>
  static void forget(actor<T>& a) noexcept {
    a.bits_ = 0;
  }
  // Gives up a concrete handle's reference, returning the block.
  template <class T>
  static actor_block* release(actor<T>& a) noexcept {
    return reinterpret_cast<actor_block*>(std::exchange(a.bits_, 0));
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
    STAKKER_ASSERT(ref_.bits_ != 0, "actor_own::owned on an empty handle");
    detail::add_owner(ref_.block());
    actor_own o;
    o.ref_ = detail::actor_access::adopt<T>(ref_.block());  // the reference add_owner took
    return o;
  }

  // Gives up ownership now (the actor stops with `dropped` if this was the last owner).
  void reset() noexcept {
    if (ref_.bits_ != 0) detail::release_owner(detail::actor_access::release(ref_));
  }

  // Stops the actor with stop_cause::killed(error): immediately, unless the actor's own call
  // is running (then when that call returns). Ignored if the actor already stopped.
  void kill(std::exception_ptr error) const {
    STAKKER_ASSERT(ref_.bits_ != 0, "actor_own::kill on an empty handle");
    if (core* c = ref_.block()->link->rt)
      detail::terminate(*c, ref_.block(), stop_cause::killed(std::move(error)));
  }
  void kill(std::string_view message) const { kill(make_error(message)); }

  const actor<T>& ref() const noexcept { return ref_; }
  operator const actor<T>&() const noexcept { return ref_; }

  bool is_prep() const noexcept { return ref_.is_prep(); }
  bool is_ready() const noexcept { return ref_.is_ready(); }
  bool is_zombie() const noexcept { return ref_.is_zombie(); }
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  std::uint64_t id() const noexcept { return ref_.id(); }
  std::string_view type_name() const noexcept { return ref_.type_name(); }

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
// when the actor terminates. The actor's memory (48 bytes plus the state) comes from the
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
  b->state_bits = 0;  // no flags (the block's memory is recycled)
  b->set_state(detail::actor_state::prep);
  b->link = link;
  link->add_ref();
  b->ops = &block::ops_fn;
  b->notify = std::move(notify);
  b->id = detail::core_access::next_actor_id(c);
#if STAKKER_OBSERVE_HOOKS
  if (detail::core_access::observe_bits(c) & detail::observe_metrics) [[unlikely]]
    detail::observed_created(c, b);
#endif
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
