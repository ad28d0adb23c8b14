// SPDX-License-Identifier: MIT OR Apache-2.0
// The small scenario the trace tests record (core/trace_test) and export (observe/
// trace_json_test): ping asks pong, pong's ret answers into ping, ping sets a 1 ms timer.
// In an unnamed namespace, as the tests expect the types' names ("{anonymous}::ping").
#pragma once

#include <chrono>
#include <utility>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"

namespace {

struct pong {
  static pong init(stakker::cx<pong>&) { return {}; }
  void ask(stakker::cx<pong>&, int v, stakker::ret<int> r) { r(v + 1); }
};

struct ping {
  stakker::actor<pong> peer;
  int last = 0;
  static ping init(stakker::cx<ping>&, stakker::actor<pong> p) { return ping{std::move(p)}; }
  void start(stakker::cx<ping>& x) {
    stakker::call<&pong::ask>(peer, 1, stakker::ret_some_to<int, &ping::answer>(x.this_actor()));
  }
  void answer(stakker::cx<ping>& x, int v) {
    last = v;
    x.core().after(std::chrono::milliseconds(1), [](stakker::core&) {});
  }
};

}  // namespace
