// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/shard/shards.hpp"

#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include "stakker/runtime.hpp"

namespace stakker::shard {

namespace {
thread_local context* this_shard = nullptr;

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}
}  // namespace

context* context::current() noexcept { return this_shard; }

// Every thread and the constructor wait here until all threads have made their runtime
// and inbox (or one failed to, or could not be started), so that no shard runs before
// every shard's inbox is known. Shared: the last one out frees it.
struct shards::start_gate {
  std::mutex m;
  std::condition_variable cv;
  std::size_t ready = 0;
  std::size_t expected;
  std::exception_ptr error;
  explicit start_gate(std::size_t n) : expected(n) {}
  // Marks one thread ready; waits for the rest. Returns whether to run.
  bool arrive(std::exception_ptr e) {
    std::unique_lock<std::mutex> lock(m);
    if (e && !error) error = e;
    ++ready;
    cv.notify_all();
    cv.wait(lock, [&] { return ready >= expected; });
    return error == nullptr;
  }
  // The constructor could start only `n` threads: stop waiting for the others.
  void give_up(std::size_t n, std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(m);
    if (!error) error = e;
    expected = n;
    cv.notify_all();
  }
};

shards::shards(shards_options o) : options_(o), slots_(o.threads) {
  if (o.threads == 0) throw std::invalid_argument("stakker::shard::shards: zero threads");
  std::vector<int> cpus = o.pin_cpus ? allowed_cpus() : std::vector<int>{};
  auto gate = std::make_shared<start_gate>(slots_.size() + 1);  // and this constructor
  std::size_t started = 0;
  running_.store(slots_.size(), std::memory_order_relaxed);
  try {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].thread = std::thread([this, i, gate] { main(i, *gate); });
      ++started;
      if (!cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpus[i % cpus.size()], &set);
        if (int e = pthread_setaffinity_np(slots_[i].thread.native_handle(), sizeof(set), &set))
          throw std::system_error(e, std::generic_category(), "stakker::shard: pinning a thread");
      }
    }
  } catch (...) {
    gate->give_up(started + 1, std::current_exception());
  }
  if (!gate->arrive(nullptr)) {
    // Every thread started returns without running (none has run anything yet).
    for (std::size_t i = 0; i < started; ++i) slots_[i].thread.join();
    std::exception_ptr e = gate->error;
    std::rethrow_exception(e);
  }
}

shards::~shards() {
  stop(stop_cause::dropped());
  if (!joined_) {
    for (auto& s : slots_)
      if (s.thread.joinable()) s.thread.join();
  }
}

void shards::main(std::size_t i, start_gate& gate) {
  std::optional<runtime> rt;
  std::optional<loop::epoll_loop> loop;
  std::unique_ptr<context> self;
  std::exception_ptr error;
  try {
    rt.emplace();
    loop.emplace(*rt);
    loop->set_spin(options_.spin.value_or(options_.threads > 1 ? shards_options::default_spin
                                                               : duration::zero()));
    self.reset(new context(*rt, *loop, i, *this));
    slots_[i].box = detail::inbox::of(*rt, {options_.ring_bytes});
    slots_[i].self = self.get();
  } catch (...) {
    error = std::current_exception();
  }
  if (!gate.arrive(error)) return;  // the constructor throws

  this_shard = self.get();
  // An exception that leaves a run (from a closure that is not an actor's call: set-up
  // code given to `on`, a ret_do callback) ends this shard with `failed`, and so the group.
  stop_cause cause = [&] {
    try {
      return loop->run();
    } catch (...) {
      return stop_cause::failed(std::current_exception());
    }
  }();
  slots_[i].cause = cause;
  stop_from(i, cause);
  this_shard = nullptr;
  // Actors go with the runtime; then its inbox closes, and later posts fail on the sender.
  self.reset();
  loop.reset();
  rt.reset();
  running_.fetch_sub(1, std::memory_order_acq_rel);
}

void shards::stop(stop_cause cause) { stop_from(slots_.size(), cause); }

void shards::stop_from(std::size_t origin, const stop_cause& cause) {
  for (std::size_t j = 0; j < slots_.size(); ++j) {
    if (j == origin || !slots_[j].box) continue;
    slots_[j].box->post([cause, j, this] {
      context* c = slots_[j].self;
      c->core().shutdown(cause);  // ignored if this shard is already stopping
    });
  }
}

const std::vector<stop_cause>& shards::join() {
  if (joined_) return causes_;
  if (context* c = context::current(); c != nullptr && &c->group() == this)
    throw std::logic_error("stakker::shard::shards::join from one of its own shards");
  for (auto& s : slots_)
    if (s.thread.joinable()) s.thread.join();
  causes_.clear();
  for (auto& s : slots_) causes_.push_back(s.cause ? *s.cause : stop_cause::dropped());
  joined_ = true;
  return causes_;
}

}  // namespace stakker::shard
