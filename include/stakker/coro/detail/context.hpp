// SPDX-License-Identifier: MIT OR Apache-2.0
// The bridge's per-runtime bookkeeping: task roots, wake nodes, and resumption.
#pragma once

#include <coroutine>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>

#include "stakker/core.hpp"
#include "stakker/coro/detail/recycler.hpp"
#include "stakker/coro/export.hpp"
#include "stakker/detail/actor_block.hpp"
#include "stakker/detail/basic_ret.hpp"
#include "stakker/detail/config.hpp"
#include "stakker/stop_cause.hpp"

namespace stakker::detail {
class inbox;
}

namespace stakker::coro::detail {

using stakker::detail::actor_block;

class context;
struct promise_base;

// Symmetric transfers made on this thread since the queue last resumed a coroutine. After
// `max_transfer_depth` of them the next one goes through the queue instead, which unwinds
// the stack: g++ 12 does not compile symmetric transfer as a tail call below -O2 or under
// ASan, so without this bound a long chain of synchronously completing awaits would
// overflow the stack.
STAKKER_CORO_EXPORT inline thread_local int transfer_depth = 0;
inline constexpr int max_transfer_depth = 64;

struct task_root;

// What a kind of root does, one table per kind (a root holds a pointer to it).
struct root_ops {
  // The outermost frame reached its final suspend: take its outcome, destroy it, answer.
  void (*complete)(task_root*, promise_base&) noexcept;
  // The chain was dropped: answer "none" (or actor_fail).
  void (*abandon)(task_root*) noexcept;
  // The last reference went: free the root.
  void (*destroy)(task_root*) noexcept;
};

// A spawned chain of coroutine frames: the outermost frame (which owns the inner ones
// through the tasks it awaits) and how to answer the spawn. Counted (not atomically): the
// chain holds one reference until it completes or is dropped; each queued closure or
// running resumption that must look at the root afterwards holds one more.
struct STAKKER_CORO_EXPORT task_root {
  std::uint32_t refs = 1;
  bool owner_gone = false;        // its actor stopped while the chain was running: drop it next
  std::coroutine_handle<> frame;  // outermost frame; null once completed or dropped
  context* ctx = nullptr;
  actor_block* owner = nullptr;  // the actor it is tied to (spawn from a cx), or null
  task_root* prev = nullptr;     // in the context's list of roots, or in its owner's
  task_root* next = nullptr;
  const root_ops* ops;

  explicit task_root(const root_ops& o) noexcept : ops(&o) {}

  // Destroys every frame of the chain at its suspension point (locals' destructors run),
  // then answers the spawn with "none". Only while the chain is suspended.
  void drop() noexcept;
};

inline void add_ref(task_root* r) noexcept { ++r->refs; }
inline void release(task_root* r) noexcept {
  if (--r->refs == 0) r->ops->destroy(r);
}

// One suspension that something else will end: shared (counted, not atomically) by the
// awaiter in the waiting frame and by whatever wakes it (a ret, a fwd, a timer closure, a
// queued resumption). The awaiter clears `handle` when it goes away, so a late wake does
// nothing: this is how destroying a waiting task disarms what would resume it.
struct wake_node {
  std::uint32_t refs = 1;
  bool drop_root = false;  // the wake means "drop the whole chain" (drop mode), not resume
  std::coroutine_handle<> handle;
  task_root* root = nullptr;
  core* c;
  void (*destroy)(wake_node*) noexcept;

  wake_node(core& cc, void (*d)(wake_node*) noexcept) noexcept : c(&cc), destroy(d) {}
};

// A wake_node with nothing more (sleeps, combinators, bounces, foreign awaits).
struct plain_wake_node final : wake_node {
  explicit plain_wake_node(core& cc) noexcept
      : wake_node(
            cc, [](wake_node* n) noexcept { recycled_delete(static_cast<plain_wake_node*>(n)); }) {}
};

inline void add_ref(wake_node* n) noexcept { ++n->refs; }
inline void release(wake_node* n) noexcept {
  if (--n->refs == 0) n->destroy(n);
}
// Sets the chain a wake resumes in. Not counted: the chain outlives every wake of its
// frames, except for a generator whose next() was abandoned while it waited inside an await
// of its own; that generator holds a count on the chain itself (async_generator.hpp).
inline void set_root(wake_node* n, task_root* r) noexcept { n->root = r; }
// Clears the handle and gives up the awaiter's reference.
inline void disarm(wake_node*& n) noexcept {
  if (n != nullptr) {
    n->handle = {};
    release(std::exchange(n, nullptr));
  }
}

// Resumes `h`, a frame of the chain `r` (null for a frame not spawned by us, e.g. awaited
// by another library's coroutine), from the queue: the transfer depth starts again, and
// if the chain's actor stops meanwhile the chain is dropped once it is suspended again.
inline void resume_in(task_root* r, std::coroutine_handle<> h) noexcept;
// The same, when the caller holds a reference to `r` (not null) across the call (inline,
// after context; the observed or owner-gone case out of line).
inline void resume_held(task_root* r, std::coroutine_handle<> h) noexcept;
STAKKER_CORO_EXPORT void resume_held_slow(task_root* r, std::coroutine_handle<> h) noexcept;

// The queued closure that ends a wait: resumes the waiting frame, or drops its chain.
struct wake_closure {
  wake_node* n;
  explicit wake_closure(wake_node* node) noexcept : n(node) { add_ref(node); }
  // Takes over a reference the caller holds.
  struct adopt_t {};
  wake_closure(wake_node* node, adopt_t) noexcept : n(node) {}
  wake_closure(wake_closure&& o) noexcept : n(std::exchange(o.n, nullptr)) {}
  wake_closure(const wake_closure&) = delete;
  ~wake_closure() {
    if (n != nullptr) release(n);
  }
  void operator()(core& c) noexcept {
    run_in_queue(this, &c);
    n = nullptr;  // released there
  }
  // The queue's runner: runs (or, with a null core, only destroys) the closure in place,
  // with no second look at `n` afterwards (see flat_queue::run_entry).
  static void run_in_queue(wake_closure* f, core* c) noexcept {
    wake_node* node = f->n;
    if (c != nullptr && node->handle) {
      if (node->drop_root && node->root != nullptr) {
        node->root->drop();
      } else {
        resume_in(node->root, std::exchange(node->handle, {}));
      }
    }
    release(node);
  }
};

// The runtime whose run is resuming us; std::logic_error (`what`) outside any run.
inline core& running_core_or_throw(const char* what) {
  core* c = stakker::detail::running_core;
  if (c == nullptr) throw std::logic_error(what);
  return *c;
}

// Queues the node's wake on its runtime (never resumes inline).
inline void schedule(wake_node* n) { n->c->defer(wake_closure(n)); }
// The same, handing the caller's reference to the queued closure (released if queueing
// throws). The queue's growth is out of line, so that the caller (a pipe's ret, run once
// per query) keeps no registers, stack frame or cleanup for it.
STAKKER_COLD inline void schedule_adopt_grown(wake_node* n) {
  n->c->defer(wake_closure(n, wake_closure::adopt_t{}));
}
inline void schedule_adopt(wake_node* n) {
  using stakker::detail::core_access;
  core& c = *n->c;
  if (!core_access::fits<wake_closure>(c)) [[unlikely]]
    return schedule_adopt_grown(n);
  core_access::emplace_fitting<wake_closure>(c, n, wake_closure::adopt_t{});
}

// The chains tied to one actor. While any was ever tied to it and it has not stopped, this
// record sits in the actor's `notify` slot (its bit `tasks_bit` set): the slot holds a ret
// whose word is the record, and the actor's own notify waits here until the actor stops
// (context::actor_stopping puts it back before the core reads it). An idle actor pays
// nothing for it, an actor with tasks one record, and tying a task is a pointer push.
struct owned_list {
  ret<stop_cause> notify;  // the actor's own
  task_root* head = nullptr;
  actor_block* owner = nullptr;
  context* ctx = nullptr;
  owned_list* prev = nullptr;  // in the context's list of records
  owned_list* next = nullptr;
};

inline owned_list* owned_list_of(actor_block* b) noexcept {
  return static_cast<owned_list*>(stakker::detail::ret_access::ptr(b->notify));
}

// Per runtime: made on first use, destroyed first when the runtime goes (which drops every
// chain still suspended, answering their spawns with "none").
class STAKKER_CORO_EXPORT context final : public stakker::detail::core_extension {
 public:
  static context& of(core& c) {
    auto& ext = stakker::detail::core_access::extension(c);
    if (ext == nullptr) [[unlikely]]
      return make(c);
    return *static_cast<context*>(ext);
  }

  explicit context(core& c);
  ~context() override;

  core& owner_core() noexcept { return *c_; }
  // Links a new root, tied to `owner` (may be null): a push on the runtime's list or on the
  // actor's (its record is made with the first task tied to it).
  void link(task_root* r, actor_block* owner) {
    r->ctx = this;
    r->owner = owner;
    r->prev = nullptr;
    task_root** head = &roots_;
    if (owner != nullptr) [[unlikely]]
      head = &(owner->has_tasks() ? owned_list_of(owner) : install(owner))->head;
    r->next = *head;
    if (*head != nullptr) (*head)->prev = r;
    *head = r;
  }
  void unlink(task_root* r) noexcept {
    if (r->next != nullptr) r->next->prev = r->prev;
    if (r->prev != nullptr) {
      r->prev->next = r->next;
    } else if (r->owner != nullptr) [[unlikely]] {
      owned_list_of(r->owner)->head = r->next;
    } else {
      roots_ = r->next;
    }
    r->prev = r->next = nullptr;
    r->owner = nullptr;
  }
  void actor_stopping(core& c, actor_block* b) noexcept override;
  // The actor the chain being resumed is tied to (null for a free task, or once it stopped).
  actor_block* running_actor() const noexcept override {
    return current != nullptr && !current->owner_gone ? current->owner : nullptr;
  }

  task_root* current = nullptr;  // the chain whose frame the queue is resuming
  // The runtime's inbox, through which frames resumed on other threads (foreign
  // awaitables) come back (see foreign.hpp). Made on first use; throws std::logic_error if
  // the runtime has no poll waker (nothing could wake it from another thread).
  const std::shared_ptr<stakker::detail::inbox>& cross();

 private:
  static context& make(core& c);
  // Puts a record in `owner`'s notify slot (see owned_list); takes it out again.
  owned_list* install(actor_block* owner);
  void uninstall(owned_list* l) noexcept;
  void unlink_record(owned_list* l) noexcept;
  static void owned_notify(stakker::detail::word& w, stop_cause* v);

  core* c_;
  task_root* roots_ = nullptr;                     // chains not tied to an actor
  owned_list* owned_ = nullptr;                    // the records of actors with tied chains
  std::shared_ptr<stakker::detail::inbox> inbox_;  // a copy of the runtime's, once asked for
};

inline void resume_held(task_root* r, std::coroutine_handle<> h) noexcept {
  context& ctx = *r->ctx;
#if STAKKER_OBSERVE_HOOKS
  const bool slow = r->owner_gone || stakker::detail::core_access::observing(ctx.owner_core());
#else
  const bool slow = r->owner_gone;
#endif
  if (slow) [[unlikely]]
    return resume_held_slow(r, h);
  transfer_depth = 0;
  // Resumptions never nest: only the queue resumes (a start, a wake), one entry at a time,
  // and no run of the queue starts inside another. So `current` is null here and again
  // after, and nothing is kept across the resumption but `r` (the context is read again
  // through it): fewer callee-saved registers in the queue's runner.
  ctx.current = r;
  h.resume();
  r->ctx->current = nullptr;
  if (r->owner_gone) [[unlikely]]
    r->drop();  // its actor stopped while it ran: now it is suspended
}

inline void resume_in(task_root* r, std::coroutine_handle<> h) noexcept {
  if (r == nullptr) {
    transfer_depth = 0;
    h.resume();
    return;
  }
  add_ref(r);  // the resumption may complete or drop the chain
  resume_held(r, h);
  release(r);
}

}  // namespace stakker::coro::detail
