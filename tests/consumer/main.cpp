// SPDX-License-Identifier: MIT OR Apache-2.0
// Shared by the consumer projects: the smallest program that uses the installed or
// add_subdirectory'd library and its loop, coroutine and shard targets. Exits 0 only if the
// spawned task really ran on the loop and delivered its value, and a call through a
// remote<A> reached an actor on a shard and answered.
#include <stakker/coro/coro.hpp>
#include <stakker/loop/epoll_loop.hpp>
#include <stakker/shard/remote.hpp>
#include <stakker/shard/shards.hpp>
#include <stakker/stakker.hpp>

#include <future>
#include <string_view>

// The version header agrees with the package that was found (when the consumer says which).
#ifdef STAKKER_EXPECTED_VERSION
static_assert(std::string_view(STAKKER_VERSION_STRING) == STAKKER_EXPECTED_VERSION,
              "stakker/version.hpp disagrees with the package's version");
static_assert(STAKKER_VERSION_MAJOR * 10000 + STAKKER_VERSION_MINOR * 100 + STAKKER_VERSION_PATCH >=
                  100,
              "stakker is at least 0.1.0");
#endif

namespace {
stakker::coro::task<int> answer() { co_return 42; }

struct doubler {
  static doubler init(stakker::cx<doubler>&) { return doubler{}; }
  void twice(stakker::cx<doubler>&, int v, stakker::ret<int> r) { r(2 * v); }
};

// An actor on a shard's thread, called from shard 0 through a remote, answering there.
int across_shards() {
  stakker::shard::shards g({.threads = 2});
  std::promise<stakker::shard::remote<doubler>> made;
  stakker::actor_own<doubler> keep;
  g.on(1, [&](stakker::shard::context& c) {
    keep = stakker::make_actor<&doubler::init>(c.core(), stakker::ret_nop<stakker::stop_cause>());
    made.set_value(stakker::shard::make_remote(keep));
  });
  auto r = made.get_future().get();
  std::promise<int> answered;
  g.on(0, [&](stakker::shard::context&) {
    stakker::shard::call<&doubler::twice>(
        r, 21, stakker::shard::make_remote(stakker::ret_do<int>([&](std::optional<int> v) {
          answered.set_value(v.value_or(-1));
        })));
  });
  int got = answered.get_future().get();
  g.on(1, [&](stakker::shard::context&) { keep.reset(); });
  g.stop(stakker::stop_cause::stopped());
  g.join();
  return got;
}
}  // namespace

int main() {
  stakker::runtime rt;
  stakker::loop::epoll_loop loop(rt);
  int got = 0;
  stakker::coro::spawn(rt, answer(), stakker::ret_do<int>([&](std::optional<int> v) {
                         got = v.value_or(-1);
                         rt.shutdown(stakker::stop_cause::stopped());
                       }));
  loop.run();
  return got == 42 && across_shards() == 42 ? 0 : 1;
}
