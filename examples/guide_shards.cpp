// SPDX-License-Identifier: MIT OR Apache-2.0
// The code quoted by docs/guide-loop.md's section on shards: two runtimes on two threads,
// an actor on one called from the other through a remote, the answer coming back, and the
// group stopping together. Run as a CTest example; prints the same lines every time.
#include <cstdio>
#include <future>
#include <optional>

#include "stakker/shard/remote.hpp"
#include "stakker/shard/shards.hpp"
#include "stakker/stakker.hpp"

using namespace stakker;

namespace {

// [guide:shard_actors]
// An ordinary actor: nothing in it knows about shards.
struct account {
  long balance = 0;
  static account init(cx<account>&) { return account{}; }
  void deposit(cx<account>&, long amount) { balance += amount; }
  void get(cx<account>&, ret<long> r) { r(balance); }
};

// A client on another shard holds a remote<account> and calls through it.
struct teller {
  shard::remote<account> acc;
  static teller init(cx<teller>&, shard::remote<account> a) { return teller{std::move(a)}; }
  void work(cx<teller>& x) {
    for (long i = 1; i <= 10; ++i) shard::call<&account::deposit>(acc, i);  // in order
    // The ret crosses as a remote_ret; its answer arrives here, on the teller's shard.
    shard::call<&account::get>(acc,
                               shard::make_remote(ret_to<long, &teller::done>(x.this_actor())));
  }
  void done(cx<teller>& x, std::optional<long> balance) {
    std::printf("shards: balance %ld, seen on shard %zu\n", balance.value_or(-1),
                shard::context::current()->index());
    x.core().shutdown(stop_cause::stopped());  // one shard stops: every shard stops
  }
};
// [/guide:shard_actors]

}  // namespace

int main() {
  // [guide:shard_group]
  shard::shards g({.threads = 2});
  // Set-up code runs on a shard's own thread. Each shard owns its actors (here in its
  // runtime's anymap, so they go with the runtime, on that thread); make_remote is called
  // on the actor's own shard.
  std::promise<shard::remote<account>> made;
  g.on(1, [&](shard::context& c) {
    c.core().anymap_set(make_actor<&account::init>(c.core(), ret_nop<stop_cause>()));
    made.set_value(shard::make_remote(c.core().anymap_get<actor_own<account>>()));
  });
  shard::remote<account> acc = made.get_future().get();
  g.on(0, [acc](shard::context& c) {
    c.core().anymap_set(make_actor<&teller::init>(c.core(), ret_nop<stop_cause>(), acc));
    call<&teller::work>(c.core().anymap_get<actor_own<teller>>());
  });
  for (const stop_cause& cause : g.join())  // each shard's cause, by index
    std::printf("shards: %s\n", cause.text().c_str());
  // [/guide:shard_group]
}
