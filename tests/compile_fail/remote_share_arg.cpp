// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: a share<T> cannot cross runtimes through a call on a remote<A> (contract S2).
// Built with STAKKER_COMPILE_FAIL_CONTROL, the member and the call use the sendable form.
#include <stakker/call.hpp>
#include <stakker/ret.hpp>
#include <stakker/shard/remote.hpp>
#include <stakker/share.hpp>

namespace {
struct target {
  static target init(stakker::cx<target>&) { return target{}; }
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  void take(stakker::cx<target>&, int) {}
#else
  void take(stakker::cx<target>&, stakker::share<int>) {}
#endif
};
}  // namespace

void use(stakker::runtime& rt) {
  auto local = stakker::make_actor<&target::init>(rt, stakker::ret_nop<stakker::stop_cause>());
  stakker::shard::remote<target> r = stakker::shard::make_remote(local);
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  stakker::shard::call<&target::take>(r, 1);
#else
  stakker::shard::call<&target::take>(r, stakker::share<int>(rt, 1));
#endif
}
