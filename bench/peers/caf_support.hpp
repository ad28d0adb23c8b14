// SPDX-License-Identifier: MIT OR Apache-2.0
// What the CAF peers share (caf_bench.cpp, caf_shard_bench.cpp): atoms, an actor system with
// a chosen number of workers, and waiting for a workload's `done_atom`.
#pragma once

#include <benchmark/benchmark.h>
#include <caf/all.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "../bench_support.hpp"

namespace bench::caf_peer {

using namespace caf;
using std::int64_t;

using start_atom = atom_constant<atom("start")>;
using done_atom = atom_constant<atom("done")>;
using tick_atom = atom_constant<atom("tick")>;
using ball_atom = atom_constant<atom("ball")>;
using get_atom = atom_constant<atom("get")>;
using inc_atom = atom_constant<atom("inc")>;
using token_atom = atom_constant<atom("token")>;
using link_atom = atom_constant<atom("link")>;
using work_atom = atom_constant<atom("work")>;
using fire_atom = atom_constant<atom("fire")>;

// An actor system with one worker thread or with CAF's default scheduler. The system keeps a
// reference to its config, so both live here.
struct caf_system {
  actor_system_config cfg;
  actor_system sys;
  bool single;
  explicit caf_system(bool one_worker)
      : sys(configure(cfg, one_worker ? 1 : 0)), single(one_worker) {}
  // Exactly `workers` worker threads (the shard peers: as many as our shards).
  explicit caf_system(std::size_t workers) : sys(configure(cfg, workers)), single(workers == 1) {}
  // `workers` 0: CAF's default.
  static actor_system_config& configure(actor_system_config& c, std::size_t workers) {
    if (workers != 0) c.set("scheduler.max-threads", workers);
    return c;
  }
  // False (and the benchmark skipped) if CAF did not take the one-worker setting.
  bool check(benchmark::State& state) {
    if (!single || sys.scheduler().num_workers() == 1) return true;
    state.SkipWithError("CAF ignored scheduler.max-threads = 1");
    return false;
  }
};

// Waits for the workload's `done_atom` and returns the check value that came with it; -1,
// and the benchmark skipped, if none comes within two minutes (rather than hang the run).
inline int64_t wait_done(scoped_actor& self, benchmark::State& state) {
  int64_t check = -1;
  self->receive([&](done_atom, int64_t v) { check = v; },
                after(std::chrono::minutes(2)) >> [&] { state.SkipWithError("no answer"); });
  return check;
}

// Sends `start` (plus args) to `target` on behalf of the scoped actor and waits for `done`.
template <class... Ts>
int64_t run_until_done(scoped_actor& self, benchmark::State& state, const actor& target,
                       Ts... args) {
  self->send(target, start_atom::value, actor_cast<actor>(self), args...);
  return wait_done(self, state);
}

// The workload's size: the full size with one worker; a tenth of it under the default
// scheduler, whose time per message on two cores is the same at either size and which would
// otherwise take more than two minutes of the run on its own.
inline int64_t caf_size(int64_t full, bool single) {
  return bench::size(single ? full : full / 10);
}

// Stops the workload's actors (the system's destructor waits for every actor; rings of
// handles would keep theirs alive forever).
template <class Actors = std::initializer_list<actor>>
void stop_all(const Actors& actors) {
  for (const actor& a : actors) anon_send_exit(a, exit_reason::user_shutdown);
}

}  // namespace bench::caf_peer
