// SPDX-License-Identifier: MIT OR Apache-2.0
// The heap block behind every actor: counts, state, notify callback and the state itself.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <new>

#include "stakker/detail/basic_ret.hpp"
#include "stakker/detail/runtime_link.hpp"
#include "stakker/detail/type_name.hpp"
#include "stakker/export.hpp"
#include "stakker/stop_cause.hpp"

namespace stakker {
class core;
}

namespace stakker::detail {

// Ready is 0: the test every queued call makes is then one `test` of the low bits.
enum class actor_state : std::uint8_t { ready, prep, zombie };
enum class block_op : std::uint8_t { destroy_state, free, state, type_name };

// A call parked while its actor is in Prep. `fn` runs it (c non-null) or only destroys it,
// and frees the node either way.
struct prep_node {
  prep_node* next;
  void (*fn)(prep_node* self, core* c);
};

// Layout (64-bit): counts 8, link 8, ops 8, notify 16, id 8, then the state: 48 bytes of
// header. `refs` counts every handle (actor, actor_own, queued calls); `owners` counts
// actor_owns; `id` numbers the actor in its runtime from 1 (contract O1).
// The state of type A (or, while in Prep, the parked calls) follows in actor_block_of<A>.
struct actor_block {
  std::uint32_t refs;
  std::uint32_t owners : 24;
  std::uint32_t state_bits : 8;
  runtime_link* link;
  // destroy_state: destroy the state (or parked calls), become Zombie; free: also release
  // the memory; state: return the address of the state storage; type_name: return the
  // state type's name (a static NUL-terminated string).
  void* (*ops)(actor_block*, block_op) noexcept;
  ret<stop_cause> notify;
  std::uint64_t id;

  const char* type_name() noexcept {
    return static_cast<const char*>(ops(this, block_op::type_name));
  }

  // Low two bits: the actor_state; bit 6: the actor is stopping (see finish); bit 7: the
  // core's extension (the coroutine bridge) keeps its record of the tasks tied to this actor
  // in `notify`, with the actor's own notify inside it, until actor_stopping (see
  // core_extension).
  static constexpr std::uint32_t state_mask = 3, stopping_bit = 0x40, tasks_bit = 0x80;
  actor_state state() const noexcept { return static_cast<actor_state>(state_bits & state_mask); }
  void set_state(actor_state s) noexcept {
    state_bits = ((state_bits & ~state_mask) | static_cast<std::uint32_t>(s)) & 0xffu;
  }
  // Set from the start of termination: a second stop while the first one runs user code
  // (tied tasks' destructors, the state's destructor) is then ignored.
  bool is_stopping() const noexcept { return (state_bits & stopping_bit) != 0; }
  void set_stopping() noexcept { state_bits = (state_bits | stopping_bit) & 0xffu; }
  bool has_tasks() const noexcept { return (state_bits & tasks_bit) != 0; }
  void set_has_tasks(bool on) noexcept {
    state_bits = (on ? state_bits | tasks_bit : state_bits & ~tasks_bit) & 0xffu;
  }
};

// The parked calls of a Prep actor (a circular list: prep_tail->next is the oldest) always
// sit right after the header, so code that knows only the header can park a call. For a
// state aligned like a pointer or less they share storage with the state; a more aligned
// state starts after them, in what would otherwise be padding.
template <class A, bool = (alignof(A) > alignof(void*))>
struct actor_block_of : actor_block {
  union {
    prep_node* prep_tail;
    A value;
  };
  actor_block_of() noexcept : prep_tail(nullptr) {}
  ~actor_block_of() {}

  static void* ops_fn(actor_block* b, block_op op) noexcept;
};

template <class A>
struct actor_block_of<A, true> : actor_block {
  prep_node* prep_tail = nullptr;
  union {
    A value;
  };
  actor_block_of() noexcept {}
  ~actor_block_of() {}

  static void* ops_fn(actor_block* b, block_op op) noexcept;
};

inline prep_node*& prep_tail_of(actor_block* b) noexcept {
  return static_cast<actor_block_of<void*>*>(b)->prep_tail;
}

// --- Lifecycle, non-template (src/actor_block.cpp) ---

// Destroys parked calls unrun (their rets deliver "none"; the observer of `link`'s runtime,
// if any, counts them as dropped); runs them in order.
STAKKER_EXPORT void destroy_prep_list(prep_node* tail, runtime_link* link) noexcept;
STAKKER_EXPORT void run_prep_list(core& c, prep_node* tail);
STAKKER_EXPORT void park(actor_block* b, prep_node* n) noexcept;

inline void add_ref(actor_block* b) noexcept { ++b->refs; }
// Drops one reference; at zero destroys what is left of the actor and frees its memory.
inline void release_ref(actor_block* b) noexcept {
  if (--b->refs == 0) [[unlikely]]
    b->ops(b, block_op::free);
}
STAKKER_EXPORT void add_owner(actor_block* b);
// Drops one owner; the last one queues termination with `dropped` (never inline).
STAKKER_EXPORT void release_owner(actor_block* b) noexcept;
// Stops the actor with `cause`: recorded if the actor's own call is running (takes effect
// when it returns; the first cause wins), otherwise now.
STAKKER_EXPORT void terminate(core& c, actor_block* b, stop_cause cause);
// Applies the cause recorded during the call of `b` that just returned.
STAKKER_EXPORT void apply_pending_stop(core& c, actor_block* b);
// Records an exception escaping the running actor's call as `failed`.
STAKKER_EXPORT void record_failure(core& c, std::exception_ptr e) noexcept;

// The ops of both layouts (a member of the primary template alone would leave the
// over-aligned specialization's ops_fn undefined).
template <class Block, class A>
void* block_ops(actor_block* b, block_op op) noexcept {
  auto* s = static_cast<Block*>(b);
  if (op == block_op::state) return &s->value;
  if (op == block_op::type_name) return const_cast<char*>(detail::type_name<A>());
  // Zombie before any user code runs: the state's destructor (or a parked call's) may stop
  // this very actor again, or drop its last owner, and must find it already stopped.
  const actor_state was = s->state();
  s->set_state(actor_state::zombie);
  if (was == actor_state::ready) {
    std::destroy_at(&s->value);
  } else if (was == actor_state::prep) {
    prep_node* tail = s->prep_tail;
    s->prep_tail = nullptr;
    destroy_prep_list(tail, s->link);
  }
  if (op == block_op::destroy_state) return nullptr;
  runtime_link* link = s->link;
  s->notify.reset();  // "none" if the actor never terminated (its runtime was destroyed)
  s->~Block();
  link->pool.deallocate(s, sizeof(Block), alignof(Block));
  link->release();
  return nullptr;
}

template <class A, bool Over>
void* actor_block_of<A, Over>::ops_fn(actor_block* b, block_op op) noexcept {
  return block_ops<actor_block_of, A>(b, op);
}
template <class A>
void* actor_block_of<A, true>::ops_fn(actor_block* b, block_op op) noexcept {
  return block_ops<actor_block_of, A>(b, op);
}

}  // namespace stakker::detail
