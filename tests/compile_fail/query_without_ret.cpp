// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: query needs a member whose last parameter is the ret<R> it awaits.
// Built with STAKKER_COMPILE_FAIL_CONTROL, the query names a member that has one (taking
// no cx<A>&, which is allowed as for call) and must compile.
#include <stakker/call.hpp>
#include <stakker/coro/query.hpp>
#include <stakker/coro/task.hpp>
#include <stakker/ret.hpp>

namespace query_without_ret {
struct counter {
  int n = 0;
  static counter init(stakker::cx<counter>&) { return counter{}; }
  void add(stakker::cx<counter>&, int k) { n += k; }
  void get(stakker::ret<int> r) { r(n); }
};

stakker::coro::task<int> ask(stakker::actor<counter> a) {
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  co_return co_await stakker::coro::query(a, &counter::get);
#else
  co_await stakker::coro::query(a, &counter::add, 1);
  co_return 0;
#endif
}
}  // namespace query_without_ret
