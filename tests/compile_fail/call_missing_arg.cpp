// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: the member's argument is missing (through the member-pointer form).
// Built with STAKKER_COMPILE_FAIL_CONTROL, the same call passes it and must compile.
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
  stakker::call(a, &counter::add, 1);
#else
  stakker::call(a, &counter::add);
#endif
}
