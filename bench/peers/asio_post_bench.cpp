// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: asio::post from the producer threads onto an io_context that a consumer thread runs
// (kept running between messages by a work guard), each message a handler. Handlers
// allocate through Asio's recycling allocator as usual (its per-thread cache cannot recycle
// across threads: that is part of the cost measured). Same workloads as sync_bench.cpp
// (cross_thread_support.hpp).
#include <benchmark/benchmark.h>
#include <asio.hpp>

#include <thread>

#include "../cross_thread_support.hpp"

namespace {

template <class Sink>
class post_consumer {
 public:
  using message = typename Sink::message;

  explicit post_consumer(Sink& sink) : sink_(&sink), thread_([this] { io_.run(); }) {}
  ~post_consumer() {
    work_.reset();  // run returns once the handlers already posted are done
    thread_.join();
  }
  post_consumer(const post_consumer&) = delete;
  post_consumer& operator=(const post_consumer&) = delete;

  auto sender() {
    return [io = &io_, sink = sink_](message m) {
      asio::post(*io, [sink, m] { sink->on(m); });
      return true;
    };
  }

 private:
  Sink* sink_;
  asio::io_context io_{1};  // one thread runs it
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;  // last: starts once the rest exists
};

const bool registered = bench::xt::register_peer<post_consumer>("asio_post");

}  // namespace
