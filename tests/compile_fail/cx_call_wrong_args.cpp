// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: an actor queues a call to itself with arguments its member cannot take.
// Built with STAKKER_COMPILE_FAIL_CONTROL, the same call passes an int and must compile.
#include <stakker/call.hpp>
#include <stakker/ret.hpp>

#include <string>

namespace {
struct counter {
  int n = 0;
  static counter init(stakker::cx<counter>&) { return counter{}; }
  void add(stakker::cx<counter>&, int k) { n += k; }
  void twice(stakker::cx<counter>& x, int k) {
#ifdef STAKKER_COMPILE_FAIL_CONTROL
    x.call<&counter::add>(k);
#else
    x.call<&counter::add>(std::string("k"), k);
#endif
    x.call<&counter::add>(k);
  }
};
}  // namespace

void use(stakker::runtime& rt) {
  auto a = stakker::make_actor<&counter::init>(rt, stakker::ret_nop<stakker::stop_cause>());
  stakker::call<&counter::twice>(a, 1);
}
