// SPDX-License-Identifier: MIT OR Apache-2.0
// The closures that carry actor calls through the queue: ready calls and Prep (init) calls.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "stakker/actor.hpp"
#include "stakker/core.hpp"
#include "stakker/detail/actor_block.hpp"
#include "stakker/detail/config.hpp"
#include "stakker/detail/type_name.hpp"

namespace stakker {

template <class T>
class cx;

namespace detail {

template <class M>
concept member_function = std::is_member_function_pointer_v<M>;

// A member (or any callable) fixed at compile time: calls through it inline.
template <auto M>
struct constant_fn {
  static constexpr auto value = M;
};

// `static`: g++ 12 gives a specialisation whose only tie to an internal entity is a
// template argument like `&(anonymous namespace)::A::m` weak external linkage, so two
// translation units with same-named members in their unnamed namespaces would share one
// copy and call the wrong member. Internal linkage keeps each unit's own.
template <class Fn>
static constexpr decltype(auto) callable_of(const Fn& fn) noexcept {
  if constexpr (requires { Fn::value; })
    return Fn::value;
  else
    return (fn);
}

template <class Fn>
using callable_t = std::decay_t<decltype(callable_of(std::declval<const Fn&>()))>;

// A target may take the context first (`void m(cx<A>&, args...)`) or not (`void m(args...)`).
template <class F, class T, class... A>
inline constexpr bool takes_cx = std::is_invocable_v<const F&, T&, cx<T>&, A...>;
template <class F, class T, class... A>
inline constexpr bool member_callable =
    takes_cx<F, T, A...> || std::is_invocable_v<const F&, T&, A...>;

// A callback's message reaches a member as its last argument, except that the std::monostate
// of a ret<void> / fwd<void> may also be left out (`void m(cx<A>&, fixed...)`).
template <class F, class T, class Msg, class... Fixed>
inline constexpr bool message_with = member_callable<F, T, Fixed&&..., Msg&&>;
template <class F, class T, class Msg, class... Fixed>
inline constexpr bool message_without = (std::is_same_v<Msg, std::monostate> &&
                                         member_callable<F, T, Fixed&&...>);
template <class F, class T, class Msg, class... Fixed>
inline constexpr bool message_callable =
    message_with<F, T, Msg, Fixed...> || message_without<F, T, Msg, Fixed...>;

template <class T, class Fn, class... A>
void invoke_member(const Fn& fn, T& self, cx<T>& x, A&&... a) {
  using F = callable_t<Fn>;
  if constexpr (takes_cx<F, T, A&&...>)
    std::invoke(callable_of(fn), self, x, std::forward<A>(a)...);
  else
    std::invoke(callable_of(fn), self, std::forward<A>(a)...);
}

// Holds a bound member or callable; an empty one (a constant_fn, a captureless lambda) is
// an empty base and takes no space. Not [[no_unique_address]]: clang 16 miscompiles
// aggregates built from prvalues with such members (writes land on the neighbouring
// member; the family of llvm/llvm-project#93563).
template <class Fn, bool = (std::is_empty_v<Fn> && std::is_default_constructible_v<Fn>)>
struct fn_holder {
  Fn fn;
  fn_holder(Fn f) : fn(std::move(f)) {}
  const Fn& get() const noexcept { return fn; }
};
template <class Fn>
struct fn_holder<Fn, true> {
  fn_holder() = default;
  fn_holder(const Fn&) noexcept {}
  Fn get() const noexcept { return Fn{}; }
};

// A bound call's arguments: a tuple that is trivially copyable when its elements are
// (std::tuple's moves are user-provided, so the ABI passes it in memory: this one reaches
// emplace_grown in registers, and the caller keeps no stack frame for it).
template <std::size_t I, class A>
struct arg_slot {
  A value;
};
template <class Seq, class... A>
struct arg_pack;
template <std::size_t... I, class... A>
struct arg_pack<std::index_sequence<I...>, A...> : arg_slot<I, A>... {
  arg_pack() = default;
  template <class... U>
  requires(sizeof...(U) == sizeof...(A) && sizeof...(U) != 0 &&
           !(sizeof...(U) == 1 && (std::is_same_v<std::remove_cvref_t<U>, arg_pack> && ...)))
      arg_pack(U&&... u)
      : arg_slot<I, A>{std::forward<U>(u)}... {}
};

// A member or callable with its arguments (decayed, moved in at the call site).
template <class Fn, class... Args>
struct bound_call : fn_holder<Fn> {
  arg_pack<std::index_sequence_for<Args...>, Args...> args;

  template <class T>
  void operator()(T& self, cx<T>& x) {
    run(self, x, std::index_sequence_for<Args...>{});
  }

 private:
  template <class T, std::size_t... I>
  void run(T& self, cx<T>& x, std::index_sequence<I...>) {
    invoke_member(this->get(), self, x, std::move(static_cast<arg_slot<I, Args>&>(args).value)...);
  }
};

// Around an actor call while something observes (trace event, metrics, call audit): the
// first before it (metrics, the audit record) returns the trace's start ticks, or 0 when the
// call is not traced; the second after it records the trace event when the first gave a
// start. `key` is the address the queued call ran from; `name` its member's, if known.
// Nothing of the call itself passes through them, so that while nothing observes the call
// runs inline exactly as without the hooks (no closure's address escapes).
STAKKER_EXPORT std::uint64_t observed_call_begin(core& c, actor_block* b,
                                                 const char* name) noexcept;
STAKKER_EXPORT void observed_call_end(core& c, actor_block* b, const void* key, const char* name,
                                      std::uint64_t start) noexcept;
// Records that a call to `target` was queued at `key` (trace event, metrics).
STAKKER_EXPORT void observed_enqueue(core& c, actor_block* target, const void* key) noexcept;
// `n` queued calls were dropped unrun (their actor stopped): off the queue depth.
STAKKER_EXPORT void observed_dropped(core& c, std::size_t n) noexcept;

// record_failure for the exception being handled, in the running actor's call (out of line:
// the exception_ptr's frame stays off its caller's fast path).
STAKKER_COLD inline void record_caught_failure() noexcept {
  record_failure(*running_core, std::current_exception());
}

// Whether something records actor calls (one test; false with the hooks compiled out).
STAKKER_INLINE bool observing_calls([[maybe_unused]] const core& c) noexcept {
#if STAKKER_OBSERVE_HOOKS
  return core_access::observing(c);
#else
  return false;
#endif
}

// Runs `f()` as a call of actor `b`: marks it current (so a stop or failure it records
// takes effect when the call returns), turns an escaping exception into `failed`.
template <class F>
STAKKER_INLINE void run_call_body(core& c, actor_block* b, F& f) {
  // Actor calls never nest (a member cannot run another actor's member inline), so there
  // is no outer current actor to restore.
  actor_block*& current = core_access::current(c);
  STAKKER_ASSERT(current == nullptr, "an actor call ran inside another actor's call");
  current = b;
  try {
    f();
  } catch (...) {
    record_failure(c, std::current_exception());
  }
  current = nullptr;
  STAKKER_ASSERT(core_access::borrows(c) == 0,
                 "a share borrow outlived the actor call that made it");
  if (core_access::stop_pending(c)) [[unlikely]]
    apply_pending_stop(c, b);
}

// The same (run_call_body), recording what the observer asks for around it. `key` and
// `name` are for the observer (see observed_call_begin).
template <class F>
STAKKER_INLINE void run_observed_body(core& c, actor_block* b, F& f, const void* key,
                                      const char* name) {
  const std::uint64_t traced = observed_call_begin(c, b, name);
  run_call_body(c, b, f);
  if (traced != 0) observed_call_end(c, b, key, name, traced);
}

// run_call_body, or run_observed_body while something records.
template <class F>
STAKKER_INLINE void run_as_actor(core& c, actor_block* b, F&& f, const void* key = nullptr,
                                 const char* name = nullptr) {
#if STAKKER_OBSERVE_HOOKS
  if (core_access::observing(c)) [[unlikely]] {
    if (core_access::metrics_only(c)) {  // counted inline
      core_access::count_run(c);
      run_call_body(c, b, f);
      return;
    }
    run_observed_body(c, b, f, key, name);
    return;
  }
#else
  (void)key;
  (void)name;
#endif
  run_call_body(c, b, f);
}

// The member a queued call's body runs, for traces and call audits: its name when the
// member is fixed at compile time (`cx.call<&A::m>`, `fwd_to<&A::m>`), else null.
template <class Body>
struct call_name {
  static constexpr const char* value = nullptr;
};
template <auto M, class... Args>
struct call_name<bound_call<constant_fn<M>, Args...>> {
  static constexpr const char* value = member_name<M>();
};

// Moves closure `f` (an actor_call) into a node parked on its Prep actor.
template <class F>
void park_call(actor_block* b, F&& f) {
  struct node : prep_node {
    F f;
    runtime_link* link;
  };
  static constexpr auto run = [](prep_node* p, core* c) {
    auto* n = static_cast<node*>(p);
    runtime_link* link = n->link;
    struct free_after {
      node* n;
      runtime_link* link;
      ~free_after() {
        n->~node();
        link->pool.deallocate(n, sizeof(node), alignof(node));
      }
    } guard{n, link};
    if (c != nullptr) n->f(*c);
  };
  runtime_link* link = b->link;
  auto* n = ::new (link->pool.allocate(sizeof(node), alignof(node)))
      node{{nullptr, +run}, std::move(f), link};
  park(b, n);
}

// A queued call of a Ready member: runs it if the actor is Ready, parks it while the actor
// is in Prep, drops it (destroying its arguments) if the actor is a Zombie.
template <class T, class Body>
struct actor_call {
  static constexpr bool observed_queueing = true;  // see queue_on
  actor<T> target;
  Body body;

  STAKKER_INLINE void operator()(core& c) {
    actor_block* b = actor_access::block(target);
    if (b->state() == actor_state::ready) [[likely]] {
#if STAKKER_OBSERVE_HOOKS
      // Observed, the call runs out of line: the path on which nothing observes keeps the
      // code (and the registers) of a build without the hooks, after one test.
      // Metrics alone are counted here, and the call runs on the plain path.
      if (core_access::observing(c)) [[unlikely]] {
        if (!core_access::metrics_only(c)) {
          run_observed(c, b);
          return;
        }
        core_access::count_run(c);
      }
#endif
      run_ready<false>(c, b);
    } else if (b->state() == actor_state::prep) {
      park_call(b, std::move(*this));
    } else {
#if STAKKER_OBSERVE_HOOKS
      if (core_access::observing(c)) [[unlikely]]
        observed_dropped(c, 1);  // a call to a Zombie: never runs
#endif
    }
  }

  // The queue's runner (flat_queue::run_entry): runs the call in place and destroys it; a
  // null core destroys it only. Only a Ready actor's call while nothing observes runs here;
  // every other path is one out-of-line call (run_other, finish_stopped, the block's free),
  // and after the member the core is read again from the thread (the queue runs inside
  // runtime::run only). GCC keeps a value live across any call, however cold (the queue's
  // growth under the member's own calls), in a callee-saved register saved on every call:
  // here only the closure's address is, one register instead of six.
  STAKKER_INLINE static void run_in_queue(actor_call* f, core* c) {
    if (c == nullptr) [[unlikely]] {
      destroy_cold(f);
      return;
    }
    STAKKER_ASSERT(running_core == c, "an actor call ran outside its runtime's run");
    // The same core, as the member's calls find it (core_of): the compiler may then reuse
    // what this function read of it (the observer's test, the null test).
    c = running_core;
    actor_block* b = actor_access::block(f->target);
    if (b->state() != actor_state::ready || observing_calls(*c)) [[unlikely]] {
      if (!counted_inline(*c, b)) {
        run_other(f, *c);
        return;
      }
    }
    actor_block*& current = core_access::current(*c);
    STAKKER_ASSERT(current == nullptr, "an actor call ran inside another actor's call");
    current = b;
    // The closure's reference is offered to the first self-call the member makes (see
    // cx::call): a chain of self-calls then touches no reference count at all.
    cx<T> x(*c, f->target, true);
    try {
      f->body(*actor_access::state(f->target), x);
    } catch (...) {
      record_caught_failure();
    }
    core& rc = *running_core;
    STAKKER_ASSERT(core_access::borrows(rc) == 0,
                   "a share borrow outlived the actor call that made it");
    if (core_access::stop_pending(rc)) [[unlikely]] {
      finish_stopped(f, rc, x.holds_donor_ref());
      return;
    }
    core_access::current(rc) = nullptr;
    // The body, then the reference, as ~actor_call would; the handle itself is left as it
    // is (its bits are what a debug check of a cx kept past its call reads), its reference
    // dropped here unless the member handed it on.
    actor_block* held = actor_access::block(f->target);
    std::destroy_at(&f->body);
    if (x.holds_donor_ref()) release_ref(held);
  }

  template <bool Observed>
  STAKKER_INLINE void run_ready(core& c, actor_block* b) {
    // This closure's reference is offered to the first self-call the member makes (see
    // cx::call): a chain of self-calls then touches no reference count at all.
    cx<T> x(c, target, true);
    auto call = [&] { body(*actor_access::state(target), x); };
    if constexpr (Observed)
      run_observed_body(c, b, call, this, call_name<Body>::value);
    else
      run_call_body(c, b, call);
    if (!x.holds_donor_ref()) actor_access::forget(target);
  }
  // Out of line, so that the hot function does not carry this path's registers and frame.
  STAKKER_COLD void run_observed(core& c, actor_block* b) { run_ready<true>(c, b); }

  // A Ready actor's call while metrics alone record: counted here, then run on the plain
  // path (a counter in the core, no call), so that metrics cost one increment per call.
  STAKKER_INLINE static bool counted_inline([[maybe_unused]] core& c,
                                            [[maybe_unused]] actor_block* b) noexcept {
#if STAKKER_OBSERVE_HOOKS
    if (b->state() == actor_state::ready && core_access::metrics_only(c)) {
      core_access::count_run(c);
      return true;
    }
#endif
    return false;
  }

  // run_in_queue's cold paths. Each destroys the closure, also when the call throws.
  struct destroy_after {
    actor_call* f;
    ~destroy_after() { f->~actor_call(); }
  };
  STAKKER_COLD static void destroy_cold(actor_call* f) noexcept { f->~actor_call(); }
  // Not Ready (parked or dropped), or observed (metrics, tracing, audits): operator() as
  // the timers and parked calls run it. Out of line but not cold: while metrics are on every
  // call comes here (a cold function is compiled for size, and the member inlined into it
  // with it).
  STAKKER_NOINLINE static void run_other(actor_call* f, core& c) {
    destroy_after guard{f};
    (*f)(c);
  }
  // The member recorded a stop (cx::stop, fail, an exception): applied now.
  STAKKER_COLD static void finish_stopped(actor_call* f, core& c, bool holds_ref) {
    destroy_after guard{f};
    actor_block* b = actor_access::block(f->target);
    if (!holds_ref) actor_access::forget(f->target);  // handed on to a self-call
    core_access::current(c) = nullptr;
    apply_pending_stop(c, b);
  }
};

// An init's name, for traces: "chat::room::init" for `call_prep<&chat::room::init>`.
template <class Fn>
struct init_name {
  static constexpr const char* value = "init";
};
template <auto M>
struct init_name<constant_fn<M>> {
  static constexpr const char* value = member_name<M>();
};

// Writes the audit record of an actor that just became Ready.
STAKKER_EXPORT void audit_started(core& c, actor_block* b) noexcept;

// The state type an init returns: A or std::optional<A>.
template <class R>
struct init_result {
  using state = R;
  static constexpr bool optional = false;
};
template <class A>
struct init_result<std::optional<A>> {
  using state = A;
  static constexpr bool optional = true;
};

// A queued Prep call: runs the init if the actor is still in Prep (else drops it). A value
// installs the state (Ready) and then runs the calls parked meanwhile, in order; an empty
// optional leaves the actor in Prep.
template <class A, class Fn, class... Args>
struct actor_init : fn_holder<Fn> {
  static constexpr bool observed_queueing = true;  // see queue_on
  actor<A> target;
  std::tuple<Args...> args;

  void operator()(core& c) {
    auto* b = static_cast<actor_block_of<A>*>(actor_access::block(target));
    if (b->state() != actor_state::prep) {
#if STAKKER_OBSERVE_HOOKS
      if (core_access::observing(c)) [[unlikely]]
        observed_dropped(c, 1);
#endif
      return;
    }
    prep_node* parked = nullptr;
    auto init = [&] {
      cx<A> x(c, target);
      auto make = [&]() -> decltype(auto) {
        return std::apply(
            [&](Args&... a) { return std::invoke(callable_of(this->get()), x, std::move(a)...); },
            args);
      };
      if constexpr (init_result<decltype(make())>::optional) {
        auto r = make();
        if (r) install(b, parked, [&] { return std::move(*r); });
      } else {
        install(b, parked, make);
      }
      if (core_access::audit_lifecycle(c) && b->state() == actor_state::ready) [[unlikely]]
        audit_started(c, b);
    };
    run_as_actor(c, b, init, this, init_name<Fn>::value);
    if (parked != nullptr) run_prep_list(c, parked);
  }

  // Builds the state in place from `make()` (a prvalue is constructed directly).
  template <class Make>
  static void install(actor_block_of<A>* b, prep_node*& parked, Make&& make) {
    prep_node* tail = b->prep_tail;
    try {
      ::new (static_cast<void*>(&b->value)) A(make());
    } catch (...) {
      b->prep_tail = tail;
      throw;
    }
    b->set_state(actor_state::ready);
    parked = tail;
  }
};

// The runtime of actor block `b`, or null if it is gone.
STAKKER_INLINE core* core_of(actor_block* b) noexcept {
  core* c = running_core;
  if (c == nullptr || core_access::link(*c) != b->link) [[unlikely]]
    c = b->link->rt;
  return c;
}

// A call to `target` was queued at `key`: tells the observer, if anything records (metrics
// alone are counted inline). One predicted branch while nothing does.
STAKKER_INLINE void note_queued([[maybe_unused]] core& c, [[maybe_unused]] actor_block* target,
                                [[maybe_unused]] void* key) noexcept {
#if STAKKER_OBSERVE_HOOKS
  if (core_access::observing(c)) [[unlikely]] {
    if (core_access::metrics_only(c))
      core_access::count_queued(c);
    else
      observed_enqueue(c, target, key);
  }
#endif
}

// Builds closure F on the queue of `c` and tells the observer (actor calls and inits only,
// which say so: each is later run or dropped, once).
template <class F, class... Args>
STAKKER_INLINE void emplace_noted(core& c, actor_block* b, Args&&... args) {
  [[maybe_unused]] void* key = core_access::emplace<F>(c, std::forward<Args>(args)...);
  if constexpr (requires { F::observed_queueing; }) note_queued(c, b, key);
}
// The same when the queue must grow first: out of line, so that nothing the caller holds
// lives across the call to grow (an inlined caller would keep it in callee-saved registers,
// saved and restored on every call). The arguments come by value, in registers when they
// can: a reference would make the caller keep them in memory on its fast path too.
template <class F, class... Args>
STAKKER_COLD void emplace_grown(core& c, actor_block* b, Args... args) {
  emplace_noted<F>(c, b, std::move(args)...);
}

// emplace_noted with the growth out of line.
template <class F, class... Args>
STAKKER_INLINE void emplace_on(core& c, actor_block* b, Args&&... args) {
  if constexpr (flat_queue::stored_inline<F>) {
    if (!core_access::fits<F>(c)) [[unlikely]] {
      emplace_grown<F, std::decay_t<Args>...>(c, b, std::forward<Args>(args)...);
      return;
    }
    [[maybe_unused]] void* key = core_access::emplace_fitting<F>(c, std::forward<Args>(args)...);
    if constexpr (requires { F::observed_queueing; }) note_queued(c, b, key);
  } else {
    emplace_noted<F>(c, b, std::forward<Args>(args)...);
  }
}

// queue_on from outside a run of the target's runtime (out of line: by value, as
// emplace_grown).
template <class F, class... Args>
STAKKER_COLD void queue_on_other(actor_block* b, Args... args) {
  if (core* c = b->link->rt) emplace_on<F>(*c, b, std::move(args)...);
}

// Queues a closure of type F, built in place from `args`, on the runtime of block `b`;
// nothing is built if the runtime is gone. The fast path (core_of's) on its own: on it the
// core is the thread's running core, so what the running call read of it (the observer's
// test) serves again.
template <class F, class... Args>
STAKKER_INLINE void queue_on(actor_block* b, Args&&... args) {
  core* c = running_core;
  if (c != nullptr && core_access::link(*c) == b->link) [[likely]]
    emplace_on<F>(*c, b, std::forward<Args>(args)...);
  else
    queue_on_other<F, std::decay_t<Args>...>(b, std::forward<Args>(args)...);
}
// Copies a non-empty handle where it initialises the closure's own (one word, so that it
// reaches emplace_grown in a register, and no test for an empty handle).
template <class T>
struct actor_copy {
  const actor<T>* a;
  operator actor<T>() const noexcept { return actor_access::copy_nonempty(*a); }
};

// Queues a call of `body` on actor `a` (which is copied into the closure).
template <class T, class Body>
STAKKER_INLINE void queue_call(const actor<T>& a, Body&& body) {
  actor_block* b = actor_access::block(a);
  STAKKER_ASSERT(b != nullptr, "call through an empty actor handle");
  queue_on<actor_call<T, std::decay_t<Body>>>(b, actor_copy<T>{&a}, std::forward<Body>(body));
}
// The same, the queued call taking over the reference of `a` (no count taken or dropped).
template <class T, class Body>
STAKKER_INLINE void queue_call(actor<T>&& a, Body&& body) {
  actor_block* b = actor_access::block(a);
  STAKKER_ASSERT(b != nullptr, "call through an empty actor handle");
  queue_on<actor_call<T, std::decay_t<Body>>>(b, std::move(a), std::forward<Body>(body));
}

// An actor target for callbacks: sends `(fixed..., message)` to member `fn` of `a`.
template <class T, class Fn, class... Fixed>
struct actor_target : fn_holder<Fn> {
  actor<T> a;
  std::tuple<Fixed...> fixed;

  template <class Msg>
  void send(Msg&& m) const {  // copies the fixed arguments (a fwd may send many times)
    if constexpr (message_with<callable_t<Fn>, T, std::decay_t<Msg>, Fixed...>) {
      using body = bound_call<Fn, Fixed..., std::decay_t<Msg>>;
      queue_call(a, std::apply(
                        [&](const Fixed&... f) {
                          return body{this->get(), {f..., std::forward<Msg>(m)}};
                        },
                        fixed));
    } else {
      using body = bound_call<Fn, Fixed...>;
      queue_call(a, std::apply(
                        [&](const Fixed&... f) {
                          return body{this->get(), {f...}};
                        },
                        fixed));
    }
  }
  template <class Msg>
  void send_once(Msg&& m) {  // moves everything (a ret sends once)
    actor_block* b = actor_access::block(a);
    if constexpr (message_with<callable_t<Fn>, T, std::decay_t<Msg>, Fixed...>) {
      using body = bound_call<Fn, Fixed..., std::decay_t<Msg>>;
      queue_on<actor_call<T, body>>(
          b, std::move(a),
          std::apply(
              [&](Fixed&... f) {
                return body{this->get(), {std::move(f)..., std::forward<Msg>(m)}};
              },
              fixed));
    } else {
      using body = bound_call<Fn, Fixed...>;
      queue_on<actor_call<T, body>>(b, std::move(a),
                                    std::apply(
                                        [&](Fixed&... f) {
                                          return body{this->get(), {std::move(f)...}};
                                        },
                                        fixed));
    }
  }
};

}  // namespace detail
}  // namespace stakker
