// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: an actor<I> cannot refer to a state through a virtual base I (a virtual
// base has no fixed offset, so the handle could not find it). Built with
// STAKKER_COMPILE_FAIL_CONTROL, the same state derives from I non-virtually and must compile.
#include <stakker/actor.hpp>
#include <stakker/call.hpp>
#include <stakker/ret.hpp>

namespace {
struct shape {
  virtual ~shape() = default;
  virtual void area(stakker::cx<shape>&) = 0;
};
#ifdef STAKKER_COMPILE_FAIL_CONTROL
struct square final : shape {
#else
struct square final : virtual shape {
#endif
  static square init(stakker::cx<square>&) { return square{}; }
  void area(stakker::cx<shape>&) override {}
};
}  // namespace

void use(stakker::runtime& rt) {
  auto a = stakker::make_actor<&square::init>(rt, stakker::ret_nop<stakker::stop_cause>());
  stakker::actor<shape> s = a;
  stakker::call<&shape::area>(s);
}
