// SPDX-License-Identifier: MIT OR Apache-2.0
// The bridge's per-runtime bookkeeping: task roots, wake nodes, and resumption.
#pragma once

#include <coroutine>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "stakker/core.hpp"
#include "stakker/coro/detail/recycler.hpp"
#include "stakker/coro/export.hpp"
#include "stakker/detail/actor_block.hpp"

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
  // The outermost frame reached its final suspend: take its outcome, destroy it, answer.
  void (*complete)(task_root*, promise_base&) noexcept = nullptr;
  // The chain was dropped: answer "none" (or actor_fail).
  void (*abandon)(task_root*) noexcept = nullptr;
  void (*destroy)(task_root*) noexcept = nullptr;

  // Destroys every frame of the chain at its suspension point (locals' destructors run),
  // then answers the spawn with "none". Only while the chain is suspended.
  void drop() noexcept;
};

inline void add_ref(task_root* r) noexcept { ++r->refs; }
inline void release(task_root* r) noexcept {
  if (--r->refs == 0) r->destroy(r);
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
STAKKER_CORO_EXPORT void resume_in(task_root* r, std::coroutine_handle<> h) noexcept;
// The same, when the caller holds a reference to `r` (not null) across the call.
STAKKER_CORO_EXPORT void resume_held(task_root* r, std::coroutine_handle<> h) noexcept;

// The queued closure that ends a wait: resumes the waiting frame, or drops its chain.
struct wake_closure {
  wake_node* n;
  explicit wake_closure(wake_node* node) noexcept : n(node) { add_ref(node); }
  wake_closure(wake_closure&& o) noexcept : n(std::exchange(o.n, nullptr)) {}
  wake_closure(const wake_closure&) = delete;
  ~wake_closure() {
    if (n != nullptr) release(n);
  }
  void operator()(core&) noexcept {
    wake_node* node = std::exchange(n, nullptr);
    if (node->handle) {
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

// Per runtime: made on first use, destroyed first when the runtime goes (which drops every
// chain still suspended, answering their spawns with "none").
class STAKKER_CORO_EXPORT context final : public stakker::detail::core_extension {
 public:
  static context& of(core& c);

  explicit context(core& c);
  ~context() override;

  core& owner_core() noexcept { return *c_; }
  // Links a new root, tied to `owner` (may be null). Inline for roots of the runtime; the
  // per-actor lists are out of line.
  void link(task_root* r, actor_block* owner) {
    r->ctx = this;
    r->owner = owner;
    r->prev = nullptr;
    if (owner != nullptr) [[unlikely]] {
      link_owned(r, owner);
      return;
    }
    r->next = roots_;
    if (roots_ != nullptr) roots_->prev = r;
    roots_ = r;
  }
  void unlink(task_root* r) noexcept {
    if (r->owner != nullptr) [[unlikely]] {
      unlink_owned(r);
      return;
    }
    if (r->next != nullptr) r->next->prev = r->prev;
    if (r->prev != nullptr) {
      r->prev->next = r->next;
    } else {
      roots_ = r->next;
    }
    r->prev = r->next = nullptr;
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
  void link_owned(task_root* r, actor_block* owner);
  void unlink_owned(task_root* r) noexcept;

  core* c_;
  task_root* roots_ = nullptr;  // chains not tied to an actor
  std::unordered_map<actor_block*, task_root*> owned_;
  std::shared_ptr<stakker::detail::inbox> inbox_;  // a copy of the runtime's, once asked for
};

}  // namespace stakker::coro::detail
