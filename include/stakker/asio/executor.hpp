// SPDX-License-Identifier: MIT OR Apache-2.0
// runtime_executor: an Asio standard executor whose work runs on a runtime's main queue,
// and io_binding, which ties a runtime to the io_context its Asio operations live on.
#pragma once

#include <memory>
#include <thread>
#include <type_traits>
#include <utility>

#include "stakker/asio/config.hpp"
#include "stakker/asio/export.hpp"
#include "stakker/core.hpp"
#include "stakker/detail/inbox.hpp"

namespace stakker::asio {

class io_binding;
class tracked_runtime_executor;

namespace detail {

// Runs an Asio function object from the runtime's queue.
template <class F>
struct queued_closure {
  F f;
  void operator()(core&) { std::move(f)(); }
};

// Posted to the binding's inbox from another thread; run on the runtime thread, it queues
// `f` on the main queue (behind what the runtime already has, in arrival order per sending
// thread). Destroyed unrun when the binding goes first.
template <class F>
struct remote_closure {
  core* c;
  F f;
  void operator()() { c->defer(queued_closure<F>{std::move(f)}); }
};

}  // namespace detail

// The executor of a runtime bound to an io_context (see io_binding). `execute(f)` queues `f`
// on the runtime's main queue, where it runs in FIFO order with the actors' calls; it never
// runs `f` inline (blocking.never). From the runtime's thread that is one queue push (and,
// under io_loop, a request for a run if none is under way); from any other thread it goes
// through the binding's inbox (stakker::detail::inbox: the sending thread's lane, one wake
// per batch), and `f` runs on the runtime's thread.
//
// Asio's completion paths ask for `blocking.possibly`. That executor queues `f` the same
// way, and then, when called on the runtime's thread outside any run under io_loop (that is,
// from the io_context's own handler invocation), runs the runtime at once instead of posting
// a run: `f` still runs from the runtime's queue, behind what was queued before it, and one
// pass through the io_context is saved per completion.
//
// `query(execution::context)` is the bound io_context, so I/O objects made from this
// executor use that context's services, and their completions come back through `execute`.
// Satisfies Asio's standard executor requirements, so `net::post`, `net::dispatch`,
// `net::any_io_executor` and `net::co_spawn` accept it. Two words; the io_binding must
// outlive every use (as an io_context must outlive its executors' use).
//
// `outstanding_work.untracked` (the default); `require(outstanding_work.tracked)` gives a
// tracked_runtime_executor, which counts outstanding work on the bound io_context while it
// exists (what co_spawn and Asio's operations prefer for their handler's executor).
class runtime_executor {
 public:
  explicit runtime_executor(io_binding& b) noexcept : b_(&b) {}

  template <class F>
  void execute(F&& f) const;

  net::io_context& query(net::execution::context_t) const noexcept;
  constexpr net::execution::blocking_t query(net::execution::blocking_t) const noexcept {
    return possibly_ ? net::execution::blocking_t(net::execution::blocking.possibly)
                     : net::execution::blocking_t(net::execution::blocking.never);
  }
  runtime_executor require(net::execution::blocking_t::never_t) const noexcept {
    return runtime_executor(*b_, false);
  }
  runtime_executor require(net::execution::blocking_t::possibly_t) const noexcept {
    return runtime_executor(*b_, true);
  }
  static constexpr net::execution::outstanding_work_t query(
      net::execution::outstanding_work_t) noexcept {
    return net::execution::outstanding_work.untracked;
  }
  runtime_executor require(net::execution::outstanding_work_t::untracked_t) const noexcept {
    return *this;
  }
  tracked_runtime_executor require(net::execution::outstanding_work_t::tracked_t) const noexcept;

  // The runtime the work runs on.
  core& runtime_core() const noexcept;
  io_binding& binding() const noexcept { return *b_; }
  // Whether the caller is on the runtime's thread.
  bool running_in_this_thread() const noexcept;

  // Equal when the work runs on the same runtime (the blocking property aside, as Asio's
  // own executors compare).
  friend bool operator==(const runtime_executor& a, const runtime_executor& b) noexcept {
    return a.b_ == b.b_;
  }
  friend bool operator!=(const runtime_executor& a, const runtime_executor& b) noexcept {
    return a.b_ != b.b_;
  }

 private:
  runtime_executor(io_binding& b, bool possibly) noexcept : b_(&b), possibly_(possibly) {}
  io_binding* b_;
  bool possibly_ = false;
};

// A runtime_executor that counts outstanding work on the bound io_context for as long as it
// (or a copy) exists, as an io_context's own tracked executor does: `ioc.run()` does not
// return meanwhile. Holding it is how co_spawn on the runtime, and Asio operations whose
// handler runs on the runtime, keep a bare `ioc.run()` going until their handler is dispatched.
// Copying or destroying it is one atomic increment or decrement on the io_context. It may be
// destroyed after the io_binding (as the io_context destroys pending handlers holding one),
// but not after the io_context; `execute` needs the binding.
class tracked_runtime_executor {
  using context_work = std::decay_t<decltype(net::prefer(
      std::declval<net::io_context::executor_type>(), net::execution::outstanding_work.tracked))>;

 public:
  explicit tracked_runtime_executor(runtime_executor ex) noexcept
      : ex_(ex),
        work_(net::prefer(ex.query(net::execution::context).get_executor(),
                          net::execution::outstanding_work.tracked)) {}

  template <class F>
  void execute(F&& f) const {
    ex_.execute(std::forward<F>(f));
  }

  net::io_context& query(net::execution::context_t) const noexcept {
    return net::query(work_, net::execution::context);  // not through the binding
  }
  constexpr net::execution::blocking_t query(net::execution::blocking_t) const noexcept {
    return ex_.query(net::execution::blocking);
  }
  static constexpr net::execution::outstanding_work_t query(
      net::execution::outstanding_work_t) noexcept {
    return net::execution::outstanding_work.tracked;
  }
  tracked_runtime_executor require(net::execution::blocking_t::never_t) const noexcept {
    return {ex_.require(net::execution::blocking.never), work_};
  }
  tracked_runtime_executor require(net::execution::blocking_t::possibly_t) const noexcept {
    return {ex_.require(net::execution::blocking.possibly), work_};
  }
  tracked_runtime_executor require(net::execution::outstanding_work_t::tracked_t) const noexcept {
    return *this;
  }
  runtime_executor require(net::execution::outstanding_work_t::untracked_t) const noexcept {
    return ex_;
  }

  core& runtime_core() const noexcept { return ex_.runtime_core(); }
  io_binding& binding() const noexcept { return ex_.binding(); }
  bool running_in_this_thread() const noexcept { return ex_.running_in_this_thread(); }

  friend bool operator==(const tracked_runtime_executor& a,
                         const tracked_runtime_executor& b) noexcept {
    return a.ex_ == b.ex_;
  }
  friend bool operator!=(const tracked_runtime_executor& a,
                         const tracked_runtime_executor& b) noexcept {
    return a.ex_ != b.ex_;
  }

 private:
  tracked_runtime_executor(runtime_executor ex, context_work w) noexcept
      : ex_(ex), work_(std::move(w)) {}
  runtime_executor ex_;
  context_work work_;
};

inline tracked_runtime_executor runtime_executor::require(
    net::execution::outstanding_work_t::tracked_t) const noexcept {
  return tracked_runtime_executor(*this);
}

// Ties a runtime to the io_context its Asio operations live on, and gives out the runtime's
// executor. Registered in the runtime's anymap (as `io_binding*`), so tokens made inside a
// run find it: one per runtime. Made on the runtime's thread, which must already have a
// poll waker (a loop driving it: epoll_loop, io_loop); throws std::logic_error otherwise, or
// if the runtime already has a binding.
//
// On its own, io_binding is the third way of sharing loops: the io_context runs on another
// thread, and completions of handlers bound to the runtime's executor are marshalled to the
// runtime's thread. io_loop (the io_context drives the runtime) and io_poller (the embedded
// loop polls the io_context) contain one.
//
// Destroy it only after the io_context has stopped running handlers that use it (join the
// io_context's thread first). Closures still in its inbox are then destroyed unrun, on the
// runtime's thread. (A closure posted from inside a run of another runtime is visible at
// the end of that run: if the binding went meanwhile, it is destroyed unrun on that thread.)
class STAKKER_ASIO_EXPORT io_binding {
 public:
  io_binding(core& c, net::io_context& ioc);
  ~io_binding();
  io_binding(const io_binding&) = delete;
  io_binding& operator=(const io_binding&) = delete;

  runtime_executor get_executor() noexcept { return runtime_executor(*this); }
  core& runtime_core() const noexcept { return *core_; }
  net::io_context& context() const noexcept { return *ioc_; }
  std::thread::id thread_id() const noexcept { return thread_; }
  bool running_in_this_thread() const noexcept {
    return stakker::detail::running_core == core_ || std::this_thread::get_id() == thread_;
  }

  // The binding of runtime `c`; throws std::logic_error if it has none.
  static io_binding& of(core& c);
  // The binding of the runtime whose run is executing on this thread; throws
  // std::logic_error outside a run, or if that runtime has no binding.
  static io_binding& current();

  // Queues `f()` on the runtime (see runtime_executor::execute). Any thread.
  template <class F>
  void execute(F&& f) {
    using fn = std::decay_t<F>;
    if (stakker::detail::running_core == core_) {
      core_->defer(detail::queued_closure<fn>{fn(std::forward<F>(f))});
    } else if (std::this_thread::get_id() == thread_) {
      core_->defer(detail::queued_closure<fn>{fn(std::forward<F>(f))});
      if (request_run_ != nullptr) request_run_(driver_);
    } else {
      inbox_->post(detail::remote_closure<fn>{core_, fn(std::forward<F>(f))});
    }
  }

  // Like execute, and on the runtime's thread outside any run, under a driver that can
  // run the runtime there (io_loop), runs it at once (runtime_executor's blocking.possibly).
  template <class F>
  void execute_possibly(F&& f) {
    using fn = std::decay_t<F>;
    if (run_now_ != nullptr && stakker::detail::running_core == nullptr &&
        std::this_thread::get_id() == thread_) {
      core_->defer(detail::queued_closure<fn>{fn(std::forward<F>(f))});
      run_now_(driver_);
    } else {
      execute(std::forward<F>(f));
    }
  }

  // For a driver (io_loop), called on the runtime's thread outside a run: `request` when
  // work was queued that needs a run to happen soon, `run_now` to run the runtime at once.
  void set_driver(void* driver, void (*request)(void*), void (*run_now)(void*)) noexcept {
    driver_ = driver;
    request_run_ = request;
    run_now_ = run_now;
  }

 private:
  core* core_;
  net::io_context* ioc_;
  std::thread::id thread_;
  void* driver_ = nullptr;
  void (*request_run_)(void*) = nullptr;
  void (*run_now_)(void*) = nullptr;
  // Its own (not the runtime's): closed by the destructor, so that what is still queued
  // goes with the binding, before the io_context its handlers count work on.
  std::shared_ptr<stakker::detail::inbox> inbox_;
};

template <class F>
void runtime_executor::execute(F&& f) const {
  if (possibly_) {
    b_->execute_possibly(std::forward<F>(f));
  } else {
    b_->execute(std::forward<F>(f));
  }
}

inline net::io_context& runtime_executor::query(net::execution::context_t) const noexcept {
  return b_->context();
}

inline core& runtime_executor::runtime_core() const noexcept { return b_->runtime_core(); }

inline bool runtime_executor::running_in_this_thread() const noexcept {
  return b_->running_in_this_thread();
}

// The executor of runtime `c` (std::logic_error if it has no io_binding).
inline runtime_executor executor_of(core& c) { return io_binding::of(c).get_executor(); }

}  // namespace stakker::asio
