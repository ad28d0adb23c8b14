// SPDX-License-Identifier: MIT OR Apache-2.0
// Cross-thread delivery: producer threads sending through a stakker channel<T> into
// an actor on a runtime driven by the epoll_loop on a consumer thread. The workloads are in
// cross_thread_support.hpp; the same ones run on a mutex + condition variable queue
// (peers/mutex_queue_bench.cpp) and on asio::post (peers/asio_post_bench.cpp).
#include <benchmark/benchmark.h>

#include <future>
#include <thread>

#include "cross_thread_support.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/stakker.hpp"
#include "stakker/sync/channel.hpp"
#include "stakker/sync/waker.hpp"

namespace {

using namespace stakker;

// The receiving actor: each message is a queued call to `on`, as in a real program.
template <class Sink>
struct receiver {
  Sink* sink;
  static receiver init(cx<receiver>&, Sink* s) { return receiver{s}; }
  void on(cx<receiver>&, typename Sink::message m) { sink->on(m); }
};

// The consumer thread owns the runtime, its loop, the actor and the channel's guard. The
// benchmark thread gets a producer handle (copied into each producer thread) and stops the
// runtime through a waker at the end. `Direct`: the channel's receiver is a `fwd_do` calling
// the sink (no actor, no queued call per value): what the queued call costs.
template <class Sink, bool Direct>
class channel_consumer {
 public:
  using message = typename Sink::message;

  explicit channel_consumer(Sink& sink) {
    std::promise<channel<message>> ready;
    auto made = ready.get_future();
    thread_ = std::thread([this, &sink, &ready] {
      runtime rt;
      loop::epoll_loop lp(rt);
      auto r = make_actor<&receiver<Sink>::init>(rt, ret_nop<stop_cause>(), &sink);
      auto [ch, guard] =
          make_channel<message>(rt, Direct ? fwd_do<message>([&sink](message m) { sink.on(m); })
                                           : fwd_to<message, &receiver<Sink>::on>(r));
      stop_ = rt.waker([](core& c, bool deleted) {
        if (!deleted) c.shutdown(stop_cause::stopped());
      });
      ready.set_value(ch);
      lp.run();
    });
    ch_ = made.get();
  }
  ~channel_consumer() {
    stop_.wake();
    thread_.join();
  }
  channel_consumer(const channel_consumer&) = delete;
  channel_consumer& operator=(const channel_consumer&) = delete;

  auto sender() const {
    return [ch = ch_](message m) { return ch.send(m); };
  }

 private:
  std::thread thread_;
  channel<message> ch_;
  waker stop_;  // set on the consumer thread before ch_ is handed over
};

template <class Sink>
using to_actor = channel_consumer<Sink, false>;
template <class Sink>
using to_fwd_do = channel_consumer<Sink, true>;
const bool registered = bench::xt::register_peer<to_actor>("stakker_channel") &&
                        bench::xt::register_peer<to_fwd_do>("stakker_channel_fwd_do");

}  // namespace
