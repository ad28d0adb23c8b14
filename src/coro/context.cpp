// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/coro/detail/context.hpp"
#include "stakker/detail/observer.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>

#include "stakker/coro/detail/foreign.hpp"
#include "stakker/coro/detail/promise.hpp"
#include "stakker/coro/result.hpp"
#include "stakker/coro/spawn.hpp"

namespace stakker::coro {

std::string actor_fail::what() const {
  if (!exception) return "actor_fail: the other side went away without answering";
  try {
    std::rethrow_exception(exception);
  } catch (const std::exception& e) {
    return std::string("actor_fail: ") + e.what();
  } catch (...) {
    return "actor_fail: an exception of unknown type";
  }
}

namespace detail {

recycler::cache::~cache() {
  for (node*& head : free) {
    while (head != nullptr) ::operator delete(std::exchange(head, head->next));
  }
  room = {};
  tl_cache = nullptr;
  gone = true;  // later allocations and frees on this thread bypass the cache
}

recycler::cache* recycler::make_cache() noexcept {
  if (gone) return nullptr;
  thread_local cache c;
  tl_cache = &c;
  return &c;
}

void* recycler::allocate_slow(std::size_t size) {
  if (size > max_block) return ::operator new(size);
  if (tl_cache == nullptr) make_cache();
  return ::operator new(((size - 1) / granule + 1) * granule);
}

void recycler::deallocate_slow(void* p, std::size_t size) noexcept {
  if (size <= max_block && tl_cache == nullptr && make_cache() != nullptr) {
    deallocate(p, size);
    return;
  }
  ::operator delete(p);
}

void throw_consumed(const char* who) {
  throw std::logic_error(std::string(who) + ": an empty, finished or already awaited task");
}

void report_escaped(std::exception_ptr e) noexcept {
  std::fprintf(stderr, "stakker::coro: a spawned task threw; its ret answers none: %s\n",
               actor_fail{std::move(e)}.what().c_str());
}

void task_root::drop() noexcept {
  std::coroutine_handle<> f = std::exchange(frame, {});
  if (!f) return;
  ctx->unlink(this);
  f.destroy();  // the whole chain: each frame owns the task it awaits
  ops->abandon(this);
  release(this);  // the chain's reference
}

void resume_held_slow(task_root* r, std::coroutine_handle<> h) noexcept {
  transfer_depth = 0;
  if (r->owner_gone) {
    r->drop();
    return;
  }
  context& ctx = *r->ctx;
  task_root* outer = std::exchange(ctx.current, r);
#if STAKKER_OBSERVE_HOOKS
  if (stakker::detail::core_access::observing(ctx.owner_core())) [[unlikely]] {
    // The owner's id and type are read now: it may stop (and go) while the task runs.
    actor_block* owner = r->owner;
    const std::uint64_t id = owner != nullptr ? owner->id : 0;
    const char* type = owner != nullptr ? owner->type_name() : nullptr;
    const std::uint64_t start = stakker::detail::observer::now_ticks();
    h.resume();
    stakker::detail::observed_task(ctx.owner_core(), id, type, r, start);
  } else {
    h.resume();
  }
#else
  h.resume();
#endif
  ctx.current = outer;
  if (r->owner_gone) r->drop();  // its actor stopped while it ran: now it is suspended
}

std::coroutine_handle<> transfer_slow(std::coroutine_handle<> h, promise_base* p,
                                      task_root* root) noexcept {
  core* c = stakker::detail::running_core;
  if (c == nullptr) return h;  // not on a runtime's queue: nothing to bounce through
  if (p->bounce == nullptr) p->bounce = recycled_new<plain_wake_node>(*c);
  p->bounce->c = c;
  p->bounce->handle = h;
  set_root(p->bounce, root);
  schedule(p->bounce);
  return std::noop_coroutine();
}

namespace {
// Posted by a trampoline's resumption (any thread); runs on the runtime thread. Holds the
// trampoline's reference to the node: run, it schedules the node's wake unless the awaiter
// has gone; destroyed unrun (the runtime went), it only releases the node.
struct cross_wake {
  cross_node* n;
  explicit cross_wake(cross_node* node) noexcept : n(node) {}
  cross_wake(cross_wake&& o) noexcept : n(std::exchange(o.n, nullptr)) {}
  cross_wake(const cross_wake&) = delete;
  ~cross_wake() {
    if (n != nullptr) release(n);
  }
  void operator()() noexcept {
    cross_node* node = std::exchange(n, nullptr);
    // `abandoned` is written by the awaiter's destructor, also on the runtime thread.
    if (!node->abandoned) schedule(node->wake);
    release(node);
  }
};
}  // namespace

void post(cross_node* n) noexcept {
  // Once pushed the closure may run (and release the node with its share of the inbox)
  // before post returns; the lane this thread posts through holds the inbox from then on.
  stakker::detail::inbox& box = *n->box;
  box.post(cross_wake(n));  // closed: destroyed here, which releases the node
}

context& context::make(core& c) {
  auto& ext = stakker::detail::core_access::extension(c);
  ext = new context(c);
  return *static_cast<context*>(ext);
}

context::context(core& c) : c_(&c) {}

context::~context() {
  // Drop every chain still suspended; dropping may answer rets that spawn new tasks, which
  // are dropped in turn (a ret that respawns on every "none" would never end: give up).
  // The actors' records go back out of their notify slots as they empty.
  for (long dropped = 0;; ++dropped) {
    task_root* r = roots_;
    if (r == nullptr && owned_ != nullptr) {
      r = owned_->head;
      if (r == nullptr) {
        uninstall(owned_);
        continue;
      }
    }
    if (r == nullptr) break;
    if (dropped == 10'000'000) {
      std::fprintf(stderr,
                   "stakker::coro: tasks keep being spawned while the runtime is "
                   "destroyed; the rest are leaked\n");
      while (owned_ != nullptr) {  // the actors' own notifies back, the chains untied
        for (task_root* t = owned_->head; t != nullptr; t = t->next) t->owner = nullptr;
        uninstall(owned_);
      }
      break;
    }
    r->owner_gone = false;
    r->drop();
  }
}

owned_list* context::install(actor_block* owner) {
  auto* l = recycled_new<owned_list>();
  l->owner = owner;
  l->ctx = this;
  l->notify = std::move(owner->notify);
  owner->notify = ret<stop_cause>(&owned_notify, l);
  l->next = owned_;
  if (owned_ != nullptr) owned_->prev = l;
  owned_ = l;
  owner->set_has_tasks(true);
  return l;
}

void context::uninstall(owned_list* l) noexcept {
  actor_block* b = l->owner;
  // The slot's ret is ours (its word is `l`): emptied without being called.
  stakker::detail::ret_access::forget(b->notify);
  b->notify = std::move(l->notify);
  b->set_has_tasks(false);
  unlink_record(l);
  recycled_delete(l);
}

void context::unlink_record(owned_list* l) noexcept {
  if (l->next != nullptr) l->next->prev = l->prev;
  if (l->prev != nullptr) {
    l->prev->next = l->next;
  } else {
    owned_ = l->next;
  }
}

// The slot's ret, called or destroyed while the record is in it. The core reads an actor's
// notify only when it stops (after actor_stopping took the record out) or once its runtime
// has gone (after this context did): never reached. Were it reached, it would hand the
// value on to the actor's own notify and untie the chains (their actor is going).
void context::owned_notify(stakker::detail::word& w, stop_cause* v) {
  auto* l = static_cast<owned_list*>(w.ptr());
  context& ctx = *l->ctx;
  ret<stop_cause> own = std::move(l->notify);
  while (task_root* r = l->head) {
    ctx.unlink(r);
    ctx.link(r, nullptr);
  }
  l->owner->set_has_tasks(false);
  ctx.unlink_record(l);
  recycled_delete(l);
  if (v != nullptr) own(std::move(*v));  // (otherwise `own` answers "none" as it goes)
}

void context::actor_stopping(core&, actor_block* b) noexcept {
  // Every chain tied to `b` is dropped now, while the actor's state still exists; one
  // that is running (it stopped its own actor) is dropped when it next suspends or
  // passes control to another frame (see transfer). Then the actor's notify goes back.
  owned_list* l = owned_list_of(b);
  while (task_root* r = l->head) {
    unlink(r);
    link(r, nullptr);
    if (r == current) {
      r->owner_gone = true;
    } else {
      r->drop();
    }
  }
  uninstall(l);
}

const std::shared_ptr<stakker::detail::inbox>& context::cross() {
  if (!inbox_) inbox_ = stakker::detail::inbox::of(*c_);  // throws without a poll waker
  return inbox_;
}

}  // namespace detail
}  // namespace stakker::coro
