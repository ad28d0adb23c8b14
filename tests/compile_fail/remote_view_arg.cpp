// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: a std::string_view cannot cross runtimes through a call on a remote<A>
// (contract S2): it points into memory the sender may free. Built with
// STAKKER_COMPILE_FAIL_CONTROL, the member and the call use the sendable form.
#include <stakker/call.hpp>
#include <stakker/ret.hpp>
#include <stakker/shard/remote.hpp>
#include <stakker/share.hpp>

#include <string>
#include <string_view>

namespace {
struct target {
  static target init(stakker::cx<target>&) { return target{}; }
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  void take(stakker::cx<target>&, std::string) {}
#else
  void take(stakker::cx<target>&, std::string_view) {}
#endif
};
}  // namespace

void use(stakker::runtime& rt) {
  auto local = stakker::make_actor<&target::init>(rt, stakker::ret_nop<stakker::stop_cause>());
  stakker::shard::remote<target> r = stakker::shard::make_remote(local);
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  stakker::shard::call<&target::take>(r, std::string("text"));
#else
  stakker::shard::call<&target::take>(r, std::string_view("text"));
#endif
}
