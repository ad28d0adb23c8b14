// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: a ret_to member must take std::optional<T> (a plain T is for ret_some_to).
// Built with STAKKER_COMPILE_FAIL_CONTROL, the same ret uses ret_some_to and must compile.
#include <stakker/call.hpp>
#include <stakker/ret.hpp>

namespace {
struct counter {
  int n = 0;
  static counter init(stakker::cx<counter>&) { return counter{}; }
  void add(stakker::cx<counter>&, int k) { n += k; }
};
}  // namespace

void use(stakker::runtime& rt) {
  auto a = stakker::make_actor<&counter::init>(rt, stakker::ret_nop<stakker::stop_cause>());
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  stakker::ret<int> r = stakker::ret_some_to<int, &counter::add>(a);
#else
  stakker::ret<int> r = stakker::ret_to<int, &counter::add>(a);
#endif
  r(1);
}
