// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: the queue a C++ engineer writes by hand, a std::deque behind a std::mutex with a
// std::condition_variable. A push locks, appends, unlocks, then notifies one waiter (every
// push: the plain idiom, cheap when nobody waits). The consumer waits on the condition
// variable and drains in batches by swapping the whole deque out under the lock (the
// common fast idiom), then handles the batch unlocked. Same workloads as sync_bench.cpp
// (cross_thread_support.hpp).
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "../cross_thread_support.hpp"

namespace {

template <class T>
class mutex_queue {
 public:
  void push(T v) {
    {
      std::lock_guard<std::mutex> lock(m_);
      items_.push_back(std::move(v));
    }
    cv_.notify_one();
  }

  // Waits for items and swaps them all into `out` (which must be empty); false once closed
  // and drained.
  bool take_all(std::deque<T>& out) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [this] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    out.swap(items_);
    return true;
  }

  void close() {
    {
      std::lock_guard<std::mutex> lock(m_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<T> items_;
  bool closed_ = false;
};

template <class Sink>
class queue_consumer {
 public:
  using message = typename Sink::message;

  explicit queue_consumer(Sink& sink)
      : thread_([this, &sink] {
          std::deque<message> batch;
          while (queue_.take_all(batch)) {
            for (const message& m : batch) sink.on(m);
            batch.clear();
          }
        }) {}
  ~queue_consumer() {
    queue_.close();
    thread_.join();
  }
  queue_consumer(const queue_consumer&) = delete;
  queue_consumer& operator=(const queue_consumer&) = delete;

  auto sender() {
    return [q = &queue_](message m) {
      q->push(m);
      return true;
    };
  }

 private:
  mutex_queue<message> queue_;  // before thread_: constructed before the thread starts
  std::thread thread_;
};

const bool registered = bench::xt::register_peer<queue_consumer>("mutex_queue");

}  // namespace
