// SPDX-License-Identifier: MIT OR Apache-2.0
// The README's tutorial, compiled and run by CTest so that it stays true.
#include <cstdio>
#include <optional>

#include "stakker/loop/epoll_loop.hpp"
#include "stakker/stakker.hpp"
using namespace stakker;

// An actor is a plain class. Its init is a static member returning A or std::optional<A>.
struct counter {
  int total = 0;
  static counter init(cx<counter>&, int start) { return counter{start}; }

  // Members take the context first, then the arguments.
  void add(cx<counter>& cx, int n) {
    total += n;
    if (total > 100) cx.stop();  // takes effect when this call returns
  }
  void get(cx<counter>&, ret<int> reply) { reply(total); }
};

struct reader {
  static reader init(cx<reader>& cx, actor<counter> c) {
    // Ask; the answer comes back as a queued call to `got`.
    call<&counter::get>(c, ret_to<int, &reader::got>(cx.this_actor()));
    return {};
  }
  // ret_to targets get std::optional: empty if the ret was dropped unanswered
  // (for instance because the counter had stopped).
  void got(cx<reader>&, std::optional<int> total) {
    std::printf("reader: total %s %d\n", total ? "is" : "unknown,", total.value_or(-1));
  }
};

int main() {
  runtime rt;               // one per thread; time is passed in by whoever drives it
  loop::epoll_loop lp(rt);  // the embedded loop: real time, sleeps in epoll between turns
  auto c = make_actor<&counter::init>(rt, ret_shutdown(rt), 5);
  auto r = make_actor<&reader::init>(rt, ret_nop<stop_cause>(), c.ref());
  call<&counter::add>(c, 10);         // queued, never run inline
  call(c, &counter::add, 100);        // the same through a member pointer
  const stop_cause cause = lp.run();  // turns until the counter stops and notify shuts down
  std::printf("shutdown: %s\n", cause.text().c_str());
}
