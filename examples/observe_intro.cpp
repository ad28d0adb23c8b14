// SPDX-License-Identifier: MIT OR Apache-2.0
// Seeing inside a runtime, quoted by docs/observability.md: log records from actors (with
// their ids and the runtime's audit records), a trace written as Trace Event JSON, and the
// runtime's counters. Run with a file name, it writes the trace there.
#include <cstdio>
#include <string>

#include "stakker/observe/log.hpp"
#include "stakker/observe/trace_json.hpp"
#include "stakker/stakker.hpp"

using namespace stakker;

// [guide:actors]
struct kettle {
  int degrees = 20;
  static kettle init(cx<kettle>&) { return {}; }
  void heat(cx<kettle>& x, int by, ret<int> done) {
    degrees += by;
    // Formatted with {fmt} only if the runtime's level lets info records through.
    STAKKER_LOG_INFO(x, observe::fields("by", by), "now {} degrees", degrees);
    if (degrees > 100) throw std::runtime_error("boiled dry");
    done(degrees);
  }
};

struct cook {
  actor<kettle> k;
  static cook init(cx<cook>&, actor<kettle> k) { return cook{std::move(k)}; }
  void start(cx<cook>& x) { call<&kettle::heat>(k, 50, ret_some_to<int, &cook::hot>(x)); }
  void hot(cx<cook>& x, int degrees) {
    STAKKER_LOG_DEBUG(x, "hot at {}", degrees);  // below the level: not even formatted
    call<&kettle::heat>(k, 40, ret_some_to<int, &cook::hot>(x));
  }
};
// [/guide:actors]

int main(int argc, char** argv) {
  // [guide:setup]
  runtime rt;
  rt.set_logger(observe::text_logger(stdout), log_level::info);
  rt.trace_start(4096);  // a ring of 4096 events, allocated now
  rt.metrics_enable();

  auto k = make_actor<&kettle::init>(rt, ret_nop<stop_cause>());
  auto c = make_actor<&cook::init>(rt, ret_nop<stop_cause>(), k.ref());
  call<&cook::start>(c);
  rt.run(rt.now(), false);

  const runtime_metrics m = rt.metrics();
  std::printf("calls run: %llu, actors alive: %llu, failed: %llu\n",
              static_cast<unsigned long long>(m.calls_run),
              static_cast<unsigned long long>(m.actors_alive),
              static_cast<unsigned long long>(m.actors_failed));
  const trace_snapshot t = rt.trace_read();
  if (argc > 1) observe::write_trace_json(argv[1], {&t, 1});
  // [/guide:setup]
  std::printf("trace: %zu events\n", t.events.size());
  return m.actors_failed == 1 ? 0 : 1;
}
