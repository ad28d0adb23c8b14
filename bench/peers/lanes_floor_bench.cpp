// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: the floor of a channel's design, written by hand for this one job. Each producer has
// a lane of its own (a single-producer queue of values in linked blocks of 1024, a one-block
// spare handed back by the consumer), published with one store per value; the consumer
// thread reads every lane and calls the sink directly: no runtime, no type-erased record, no
// queued call per value, no observer. When every lane is empty the consumer sleeps on a
// futex. The wake is the same handshake as the stakker inbox's (a producer's seq_cst store
// of what it published against the consumer's seq_cst store of "asleep": one full fence per
// send, which any queue that lets its consumer sleep pays in some form), so the difference
// between this and `stakker_channel` is what the runtime and the actor call cost per value.
// Same workloads as sync_bench.cpp (cross_thread_support.hpp).
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "../cross_thread_support.hpp"

namespace {

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t seen) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, nullptr,
          nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
          nullptr, 0);
}

template <class T>
class lanes_queue {
  static constexpr std::size_t block_values = 1024;
  struct block {
    T values[block_values];
    block* next = nullptr;  // written before the first value in the next block is published
  };

 public:
  struct lane {
    // Producer.
    block* wblock;
    std::size_t widx = 0;
    std::uint64_t written = 0;
    // Producer -> consumer.
    alignas(64) std::atomic<std::uint64_t> published{0};
    std::atomic<bool> abandoned{false};  // the producer let go: the consumer frees it once read
    std::atomic<block*> spare{nullptr};  // consumer -> producer: a block to reuse
    // Consumer.
    alignas(64) block* rblock;
    std::size_t ridx = 0;
    std::uint64_t read = 0;

    lane() : wblock(new block), rblock(wblock) {}
    ~lane() {
      for (block* b = rblock; b != nullptr;) delete std::exchange(b, b->next);
      delete spare.load();
    }
  };

  ~lanes_queue() {
    for (lane* l : lanes_) delete l;
    for (lane* l : added_) delete l;
  }

  // Benchmark thread: a lane for one producer thread.
  lane* open() {
    auto* l = new lane;
    std::lock_guard<std::mutex> lock(m_);
    added_.push_back(l);
    lanes_added_.store(true, std::memory_order_seq_cst);
    return l;
  }

  // Producer thread.
  static void push(lanes_queue& q, lane& l, const T& v) {
    if (l.widx == block_values) {
      block* b = l.spare.exchange(nullptr, std::memory_order_acquire);
      if (b == nullptr) b = new block;
      b->next = nullptr;
      l.wblock->next = b;
      l.wblock = b;
      l.widx = 0;
    }
    l.wblock->values[l.widx++] = v;
    // seq_cst: before the read of `asleep_` (the consumer stores it, then reads this).
    l.published.store(++l.written, std::memory_order_seq_cst);
    if (q.asleep_.load(std::memory_order_seq_cst) &&
        q.asleep_.exchange(false, std::memory_order_seq_cst)) {
      q.wakes_.fetch_add(1, std::memory_order_release);
      futex_wake(q.wakes_);
    }
  }

  // Consumer thread: calls `on(value)` for everything published, until close().
  template <class On>
  void consume(On on) {
    for (;;) {
      if (drain(on)) continue;
      if (closed_.load(std::memory_order_acquire)) return;
      const std::uint32_t seen = wakes_.load(std::memory_order_acquire);
      asleep_.store(true, std::memory_order_seq_cst);
      if (drain(on) || closed_.load(std::memory_order_seq_cst)) {
        asleep_.store(false, std::memory_order_relaxed);
        continue;
      }
      futex_wait(wakes_, seen);
      asleep_.store(false, std::memory_order_relaxed);
    }
  }

  void close() {
    closed_.store(true, std::memory_order_seq_cst);
    if (asleep_.exchange(false, std::memory_order_seq_cst)) {
      wakes_.fetch_add(1, std::memory_order_release);
      futex_wake(wakes_);
    }
  }

 private:
  template <class On>
  bool drain(On& on) {
    if (lanes_added_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(m_);
      lanes_.insert(lanes_.end(), added_.begin(), added_.end());
      added_.clear();
      lanes_added_.store(false, std::memory_order_relaxed);
    }
    bool any = false;
    for (std::size_t i = 0; i < lanes_.size();) {
      lane& l = *lanes_[i];
      const bool abandoned = l.abandoned.load(std::memory_order_acquire);
      const std::uint64_t end = l.published.load(std::memory_order_seq_cst);
      while (l.read != end) {
        if (l.ridx == block_values) {
          block* done = l.rblock;
          l.rblock = done->next;
          l.ridx = 0;
          delete l.spare.exchange(done, std::memory_order_acq_rel);
        }
        on(l.rblock->values[l.ridx++]);
        ++l.read;
        any = true;
      }
      if (abandoned) {  // nothing more will come: read to its end above
        delete lanes_[i];
        lanes_[i] = lanes_.back();
        lanes_.pop_back();
      } else {
        ++i;
      }
    }
    return any;
  }

  std::vector<lane*> lanes_;  // consumer's
  std::mutex m_;
  std::vector<lane*> added_;
  std::atomic<bool> lanes_added_{false};
  alignas(64) std::atomic<bool> asleep_{false};
  std::atomic<bool> closed_{false};
  std::atomic<std::uint32_t> wakes_{0};
};

template <class Sink>
class lanes_consumer {
 public:
  using message = typename Sink::message;
  using queue = lanes_queue<message>;

  explicit lanes_consumer(Sink& sink)
      : thread_([this, &sink] { queue_.consume([&sink](const message& m) { sink.on(m); }); }) {}
  ~lanes_consumer() {
    queue_.close();
    thread_.join();
  }
  lanes_consumer(const lanes_consumer&) = delete;
  lanes_consumer& operator=(const lanes_consumer&) = delete;

  // Moved into one producer thread; when it goes, its lane is freed by the consumer once read.
  class lane_sender {
   public:
    lane_sender(queue& q, typename queue::lane* l) noexcept : q_(&q), l_(l) {}
    lane_sender(lane_sender&& o) noexcept : q_(o.q_), l_(std::exchange(o.l_, nullptr)) {}
    lane_sender(const lane_sender&) = delete;
    ~lane_sender() {
      if (l_ != nullptr) l_->abandoned.store(true, std::memory_order_release);
    }
    bool operator()(message m) {
      queue::push(*q_, *l_, m);
      return true;
    }

   private:
    queue* q_;
    typename queue::lane* l_;
  };
  lane_sender sender() { return {queue_, queue_.open()}; }

 private:
  queue queue_;  // before thread_: constructed before the thread starts
  std::thread thread_;
};

const bool registered = bench::xt::register_peer<lanes_consumer>("lanes_floor");

}  // namespace
