// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/epoll_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "stakker/detail/observer.hpp"
#include "stakker/loop/detail/epoll_wait.hpp"

namespace stakker::loop {

namespace {

constexpr std::uint64_t wake_tag = ~std::uint64_t{0};

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Set once this process sleeps in epoll_pwait instead of epoll_pwait2 (see
// detail::uses_epoll_pwait). Atomic only because loops on several threads may read and set
// it; relaxed, as it guards nothing but the choice of call: a plain load on x86 and ARM.
std::atomic<bool> ms_waits{false};

// Sleeps at most `d` (>= 0) in epoll, for up to `max` events; returns how many came (0 on
// EINTR). The usual path costs one predictable branch over the bare epoll_pwait2. Throws
// std::system_error for any other failure.
int wait_for_events(int epfd, epoll_event* out, int max, duration d) {
  if (!ms_waits.load(std::memory_order_relaxed)) [[likely]] {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    const timespec ts{static_cast<time_t>(ns / 1'000'000'000),
                      static_cast<long>(ns % 1'000'000'000)};
    const int got = ::epoll_pwait2(epfd, out, max, &ts, nullptr);
    if (got >= 0) return got;
    if (errno == EINTR) return 0;
    if (errno != ENOSYS && errno != EPERM) throw_errno("epoll_pwait2");
    // Not there (Linux < 5.11, valgrind 3.19) or not allowed (seccomp): from now on this
    // process waits with millisecond timeouts, rounded up.
    ms_waits.store(true, std::memory_order_relaxed);
  }
  const int got = ::epoll_pwait(epfd, out, max, detail::epoll_timeout_ms(d), nullptr);
  if (got >= 0) return got;
  if (errno == EINTR) return 0;
  throw_errno("epoll_pwait");
}

}  // namespace

// The eventfd other threads write to. Shared with the runtime's poll waker, so it stays
// open as long as that may still be called. A wake writes it only while the loop sleeps
// (or is about to): an awake loop polls the runtime's wakers in every run and checks for
// pending ones before it sleeps, so the system call is saved whenever the loop is busy.
//
// The handshake (no wake lost), every step seq_cst: the loop stores `asleep`, then checks
// core::wakes_pending(); a wake sets its bits in the hub, then (here) takes `asleep`.
// Either the loop sees the bits and does not sleep, or the wake sees `asleep` and writes.
struct detail::wake_fd {
  unique_fd fd;
  std::atomic<bool> asleep{true};
  explicit wake_fd(unique_fd f) noexcept : fd(std::move(f)) {}
  void signal() noexcept {
    // The load keeps a busy loop's line shared (no read-modify-write on it); seq_cst, as
    // the hub's update before it, so that the handshake above holds.
    if (!asleep.load(std::memory_order_seq_cst)) return;
    if (!asleep.exchange(false, std::memory_order_seq_cst)) return;
    std::uint64_t one = 1;
    while (::write(fd.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
};

namespace {
// A hint to the CPU inside a spin-wait (the other hyperthread runs meanwhile).
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

fd_source::fd_source(fd_source&& o) noexcept
    : link_(std::exchange(o.link_, nullptr)), id_(o.id_), gen_(o.gen_) {}

fd_source& fd_source::operator=(fd_source&& o) noexcept {
  if (this != &o) {
    reset();
    link_ = std::exchange(o.link_, nullptr);
    id_ = o.id_;
    gen_ = o.gen_;
  }
  return *this;
}

void fd_source::rearm(std::uint32_t events) {
  if (!*this)
    throw std::logic_error("stakker::loop::fd_source::rearm: empty source, or its loop is gone");
  link_->loop->modify(id_, gen_, events);
}

bool fd_notifier::operator()(std::uint32_t events) const {
  return link_ != nullptr && link_->loop != nullptr && link_->loop->post(id_, gen_, events);
}

bool fd_notifier::live() const noexcept {
  return link_ != nullptr && link_->loop != nullptr && link_->loop->is_live(id_, gen_);
}

void fd_source::reset() noexcept {
  if (link_ == nullptr) return;
  detail::loop_link* l = std::exchange(link_, nullptr);
  if (l->loop != nullptr) l->loop->remove(id_, gen_);
  detail::release(l);
}

epoll_loop::epoll_loop(runtime& rt) : rt_(rt) {
  if (rt_.anymap_try_get<epoll_loop*>() != nullptr)
    throw std::logic_error("stakker::loop::epoll_loop: this runtime already has a loop");
  // Each step owns what it made until the end, so a throw anywhere leaves nothing behind.
  epfd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epfd_) throw_errno("epoll_create1");
  unique_fd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!efd) throw_errno("eventfd");
  // Edge-triggered, and never read: each write raises a new edge (eventfd wakes its waiters
  // on every write, whatever the count), so the loop saves a read() per wake-up, on the
  // path a cross-thread message's latency is made of. Writes come only while the loop
  // sleeps, one per sleep at most, so the count (at most 2^64 - 2) never fills.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = wake_tag;
  if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, efd.get(), &ev) < 0)
    throw_errno("epoll_ctl(eventfd)");
  auto wake = std::make_shared<detail::wake_fd>(std::move(efd));
  auto link = std::make_unique<detail::loop_link>(detail::loop_link{this});
  rt_.anymap_set<epoll_loop*>(this);
  try {
    rt_.set_poll_waker([wake] { wake->signal(); });
  } catch (...) {
    rt_.anymap_unset<epoll_loop*>();
    throw;
  }
  link_ = link.release();
  wake_ = std::move(wake);
}

epoll_loop::~epoll_loop() {
  STAKKER_ASSERT(!turning_, "stakker::loop::epoll_loop destroyed from inside its own turn");
  link_->loop = nullptr;  // sources still alive now deregister from nothing
  detail::release(link_);
  // Wakers stay with the runtime; their wake-ups wait for its next loop. The eventfd
  // closes with the poll waker, which no thread is running once this returns.
  rt_.clear_poll_waker();
  rt_.anymap_unset<epoll_loop*>();
}

fd_source epoll_loop::add(int fd, std::uint32_t events, int priority, fwd<std::uint32_t> ready) {
  if (priority < 0 || priority > max_priority)
    throw std::invalid_argument("stakker::loop::epoll_loop::add: priority must be 0..10");
  std::uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(sources_.size());
    sources_.emplace_back();
  }
  const auto number = static_cast<std::size_t>(fd);
  try {
    if (fd >= 0 && number >= fd_owner_.size()) fd_owner_.resize(number + 1, 0);
  } catch (...) {
    free_.push_back(id);
    throw;
  }
  source& s = sources_[id];
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.u64 = std::uint64_t{s.gen} << 32 | id;
  if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
    free_.push_back(id);
    throw_errno("epoll_ctl(ADD)");
  }
  // The kernel accepted the number, so a source still holding it lost its registration
  // when its descriptor was closed: from now on it must not touch the number.
  if (const std::uint32_t prev = fd_owner_[number]; prev != 0) sources_[prev - 1].fd = -1;
  fd_owner_[number] = id + 1;
  s.fd = fd;
  s.priority = priority;
  s.ready = std::move(ready);
  s.live = true;
  return fd_source(link_, id, s.gen);
}

void epoll_loop::modify(std::uint32_t id, std::uint32_t gen, std::uint32_t events) {
  source& s = sources_[id];
  if (!s.live || s.gen != gen) throw std::logic_error("stakker::loop::fd_source: stale source");
  if (s.fd < 0)
    throw std::logic_error(
        "stakker::loop::fd_source::rearm: its descriptor was closed and the number is now "
        "registered by another source");
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.u64 = std::uint64_t{gen} << 32 | id;
  if (::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, s.fd, &ev) < 0) throw_errno("epoll_ctl(MOD)");
}

void epoll_loop::remove(std::uint32_t id, std::uint32_t gen) noexcept {
  source& s = sources_[id];
  if (!s.live || s.gen != gen) return;
  // Only while the number is still this source's: the descriptor may be closed and its
  // number registered by a newer source. Closed but not reused: the kernel dropped the
  // registration already, and the error is ignored.
  if (s.fd >= 0 && fd_owner_[static_cast<std::size_t>(s.fd)] == id + 1) {
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, s.fd, nullptr);
    fd_owner_[static_cast<std::size_t>(s.fd)] = 0;
  }
  s.fd = -1;
  s.live = false;
  // The callback's capture is destroyed last: its destructor may add sources, which can
  // move sources_ (and `s` with it).
  fwd<std::uint32_t> gone = std::move(s.ready);
  if (++s.gen == 0) s.gen = 1;  // readiness already read for it no longer matches
  free_.push_back(id);
}

bool epoll_loop::post(std::uint32_t id, std::uint32_t gen, std::uint32_t events) {
  if (!is_live(id, gen)) return false;
  // Delivered after what the kernel reports in the next turn at this level (or, posted
  // while this level's batch runs, in the next turn); the turn does not sleep meanwhile.
  pending_[static_cast<std::size_t>(sources_[id].priority)].push_back({id, gen, events});
  return true;
}

bool epoll_loop::any_pending() const noexcept {
  for (const auto& q : pending_)
    if (!q.empty()) return true;
  return false;
}

bool epoll_loop::deliver_highest() {
  for (int level = max_priority; level >= 0; --level) {
    auto& q = pending_[static_cast<std::size_t>(level)];
    if (q.empty()) continue;
    // The batch vector is kept between turns (no allocation per turn). While the callbacks
    // run only post() adds to `q`; what it adds waits for the next turn.
    std::vector<pending> batch = std::move(spare_);
    batch.clear();
    batch.swap(q);
    std::size_t i = 0;
    try {
      for (; i < batch.size(); ++i) {
        const pending p = batch[i];
        source& s = sources_[p.id];
        if (!s.live || s.gen != p.gen) continue;  // deregistered meanwhile
        fwd<std::uint32_t> f = s.ready;           // the call may deregister the source
        f(p.events);
      }
    } catch (...) {
      // The callback at `i` had its call; the rest go back, in order, for the next turn.
      // Readiness posted by the callbacks meanwhile goes after them.
      batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      batch.insert(batch.end(), q.begin(), q.end());
      q.swap(batch);
      spare_ = std::move(batch);
      throw;
    }
    spare_ = std::move(batch);
    return true;
  }
  return false;
}

bool epoll_loop::turn(duration max_wait) {
  if (turning_)
    throw std::logic_error(
        "stakker::loop::epoll_loop::turn: called from inside a callback (not re-entrant)");
  turning_ = true;
  struct end_turn {
    bool& t;
    ~end_turn() { t = false; }
  } guard{turning_};
  // A guest's ready handlers run first: they may queue work for the runtime.
  const bool guest_ran = guest_ != nullptr && guest_->poll();
  // A throw in the last turn may have left readiness, or wake-ups whose eventfd signal was
  // already read: then do not sleep.
  const bool io_pending = any_pending() || wake_unpolled_;
  // A negative max_wait is a poll, on either system call.
  duration wait = std::max(
      duration::zero(),
      rt_.next_wait_max(clock::now(), max_wait, io_pending || rt_.has_idle() || guest_ran));
  std::array<epoll_event, 64> events;
  auto collect = [&](duration d) {
    return wait_for_events(epfd_.get(), events.data(), static_cast<int>(events.size()), d);
  };
  int n;
  bool guest_woke = false;
  // Before a wait that sleeps: say so, then look once more for wakes that came meanwhile
  // (see detail::wake_fd); spin on them first when asked to, or when the last turn ran wakes.
  if (wait > duration::zero() && !ready_to_sleep(woken_ ? wake_spin_ : duration::zero()))
    wait = duration::zero();
  struct awake_again {
    detail::wake_fd& w;
    ~awake_again() { w.asleep.store(false, std::memory_order_relaxed); }
  } awake{*wake_};
  // The observer's busy and idle time, wake-ups and loop-wait slices (no-ops when off).
  const bool sleeps = wait > duration::zero();
  if (sleeps) stakker::detail::loop_wait_begin(rt_);
  if (guest_ != nullptr && sleeps) {
    // The guest sleeps, on our descriptor too; then we collect without waiting.
    n = collect(duration::zero());
    if (n == 0) {
      guest_woke = guest_->wait(epfd_.get(), wait);
      n = collect(duration::zero());
    }
  } else {
    n = collect(wait);
  }
  if (sleeps) stakker::detail::loop_wait_end(rt_);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
    if (tag == wake_tag) {
      wake_unpolled_ = true;
      continue;  // the run below polls the wakers
    }
    const auto id = static_cast<std::uint32_t>(tag);
    const auto gen = static_cast<std::uint32_t>(tag >> 32);
    if (id >= sources_.size() || !sources_[id].live || sources_[id].gen != gen) continue;
    pending_[static_cast<std::size_t>(sources_[id].priority)].push_back(
        {id, gen, events[static_cast<std::size_t>(i)].events});
  }
  const bool delivered = deliver_highest();
  const bool still_pending = any_pending();
  // Idle only when a zero-wait poll found nothing and nothing is left to deliver.
  const bool idle = wait == duration::zero() && n == 0 && !delivered && !still_pending &&
                    !guest_ran && !guest_woke;
  // Whether this turn runs wakes from other threads: the eventfd was read, or a wake's bits
  // are set (a wake sets them before it writes the eventfd, and they stay until the run
  // below polls them, whether the loop slept, spun or was busy meanwhile).
  woken_ = wake_unpolled_ || rt_.wakes_pending();
  wake_unpolled_ = false;  // the run polls them (a handler that throws wakes the loop again)
  rt_.run(clock::now(), idle);
  return n > 0 || delivered || guest_ran || guest_woke;
}

bool epoll_loop::ready_to_sleep(duration wake_spin) noexcept {
  // Wakes already waiting as the turn ends: a stream, which the loop takes in batches. Then
  // the next end of a turn does not spin after a wake: a sleep lets the next batch gather
  // (spinning there would take a stream a few records per turn, each turn's fixed cost and
  // the producers' wake handshake paid many times over: 1.75x the time per record with one
  // producer). A wake that comes a while after the turn (a reply to what it sent) is spun for.
  const bool waiting = rt_.wakes_pending();
  const bool stream = std::exchange(found_waiting_, waiting);
  if (waiting) return false;
  const duration spin = stream ? spin_ : std::max(spin_, wake_spin);
  if (spin > duration::zero()) {
    // Wakes from other threads only: readiness of descriptors waits for the wait itself.
    // The clock is read every 8 pauses (a pause is tens of cycles, a read of the clock
    // about 20 ns), so a short spin is about as long as asked.
    const auto until = clock::now() + spin;
    for (int i = 0;; ++i) {
      if (rt_.wakes_pending()) return false;
      if ((i & 7) == 7 && clock::now() >= until) break;
      spin_pause();
    }
  }
  wake_->asleep.store(true, std::memory_order_seq_cst);
  if (!rt_.wakes_pending()) return true;
  wake_->asleep.store(false, std::memory_order_relaxed);
  return false;
}

void epoll_loop::set_spin(duration d) noexcept { spin_ = std::max(duration::zero(), d); }

void epoll_loop::set_wake_spin(duration d) noexcept { wake_spin_ = std::max(duration::zero(), d); }

void epoll_loop::set_guest(guest* g) {
  if (g != nullptr && guest_ != nullptr && g != guest_)
    throw std::logic_error("stakker::loop::epoll_loop: a guest loop is already attached");
  guest_ = g;
}

stop_cause epoll_loop::run() {
  while (!rt_.is_shutdown()) turn(std::chrono::seconds(60));
  return *rt_.shutdown_cause();
}

namespace detail {

bool uses_epoll_pwait() noexcept { return ms_waits.load(std::memory_order_relaxed); }

void force_epoll_pwait(bool on) noexcept { ms_waits.store(on, std::memory_order_relaxed); }

}  // namespace detail

}  // namespace stakker::loop
