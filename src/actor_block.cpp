// SPDX-License-Identifier: MIT OR Apache-2.0
#include <stdexcept>

#include "stakker/actor.hpp"
#include "stakker/core.hpp"
#include "stakker/detail/actor_block.hpp"
#include "stakker/detail/actor_call.hpp"
#include "stakker/detail/observer.hpp"

namespace stakker::detail {

namespace {

// Queued by the last actor_own: stops the actor with `dropped` unless it already stopped.
// Holds the owner's reference to the block until it has run or been destroyed.
struct drop_actor {
  actor_block* b;
  drop_actor(actor_block* blk) noexcept : b(blk) {}
  drop_actor(drop_actor&& o) noexcept : b(std::exchange(o.b, nullptr)) {}
  ~drop_actor() {
    if (b == nullptr) return;
    // Destroyed unrun (the runtime is going): destroy the state or parked calls now, as they
    // may hold references to this very block and would otherwise keep it alive forever.
    if (b->state() != actor_state::zombie && !b->is_stopping()) b->ops(b, block_op::destroy_state);
    release_ref(b);
  }
  void operator()(core& c) { terminate(c, b, stop_cause::dropped()); }
};

// Stops the actor: tied tasks, then the state, then the notify hears `cause`. User code runs
// in the middle (destructors); a stop requested meanwhile finds the actor stopping and is
// ignored, so the first cause wins and nothing is destroyed twice.
void finish(core& c, actor_block* b, stop_cause cause) {
  if (b->state() == actor_state::zombie || b->is_stopping()) return;
  b->set_stopping();
  add_ref(b);  // the state's destructor may drop the last other reference
  // Tasks tied to the actor go first, while the state they may refer to still exists.
  if (b->has_tasks()) core_access::extension(c)->actor_stopping(c, b);
  b->ops(b, block_op::destroy_state);
  core_access::count_stop(c, cause == stop_kind::failed);
  if (core_access::get_observer(c) != nullptr) [[unlikely]]
    observed_stop(c, b, cause);
  ret<stop_cause> notify = std::move(b->notify);
  release_ref(b);
  if (notify) notify(std::move(cause));
}

std::size_t destroy_from(prep_node* n) noexcept {
  std::size_t count = 0;
  while (n != nullptr) {
    prep_node* next = n->next;
    n->fn(n, nullptr);
    n = next;
    ++count;
  }
  return count;
}

}  // namespace

void destroy_prep_list(prep_node* tail, runtime_link* link) noexcept {
  if (tail == nullptr) return;
  prep_node* n = tail->next;
  tail->next = nullptr;
  const std::size_t dropped = destroy_from(n);
  if (core* c = link->rt; c != nullptr && core_access::observing(*c)) observed_dropped(*c, dropped);
}

void run_prep_list(core& c, prep_node* tail) {
  prep_node* n = tail->next;
  tail->next = nullptr;
  while (n != nullptr) {
    prep_node* next = n->next;
    try {
      n->fn(n, &c);
    } catch (...) {
      const std::size_t dropped = destroy_from(next);
      if (core_access::observing(c)) observed_dropped(c, dropped);
      throw;
    }
    n = next;
  }
}

void park(actor_block* b, prep_node* n) noexcept {
  prep_node*& tail = prep_tail_of(b);
  if (tail == nullptr) {
    n->next = n;
  } else {
    n->next = tail->next;
    tail->next = n;
  }
  tail = n;
}

void add_owner(actor_block* b) {
  if (b->owners == 0xffffffu) throw std::length_error("stakker::actor_own: too many owners");
  ++b->owners;
  add_ref(b);
}

void release_owner(actor_block* b) noexcept {
  // A stopping actor is finished by whoever is stopping it.
  if (--b->owners == 0 && b->state() != actor_state::zombie && !b->is_stopping()) {
    if (b->link->rt != nullptr) {
      b->link->rt->defer(drop_actor(b));  // takes over the owner's reference
      return;
    }
    b->ops(b, block_op::destroy_state);  // no runtime left to stop it (see ~drop_actor)
  }
  release_ref(b);
}

void terminate(core& c, actor_block* b, stop_cause cause) {
  if (b->state() == actor_state::zombie || b->is_stopping()) return;
  if (core_access::current(c) == b) {
    core_access::record(c, std::move(cause));
    return;
  }
  finish(c, b, std::move(cause));
}

void apply_pending_stop(core& c, actor_block* b) {
  stop_cause cause = core_access::take_pending(c);
  finish(c, b, std::move(cause));
}

void record_failure(core& c, std::exception_ptr e) noexcept {
  core_access::record(c, stop_cause::failed(std::move(e)));
}

}  // namespace stakker::detail
