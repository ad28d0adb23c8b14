// SPDX-License-Identifier: MIT OR Apache-2.0
// Randomized stress of the coroutine bridge in virtual time: trees of when_all, when_any,
// with_timeout, sequential awaits, ret_pipes, pulls, queries, generators and fwd_streams, with
// actor kills, actor failures and runtime teardown at random points.
//
// Invariants, checked per seed: every counted value is destroyed exactly once (and no value
// id is consumed twice); a stream reader that reaches the end (or, in result mode, the
// actor_fail) has read every pushed value, in order; a generator's values reach its reader
// consecutively, whatever next() timed out; every spawn's ret answers exactly once. ASan and
// LSan check the rest (no use after free, no leak at teardown).
//
// Budget: STAKKER_STRESS_SECONDS (default 10) or STAKKER_STRESS_SEEDS seeds (default
// 20000), whichever comes first (under ASan a seed takes about a millisecond).
// STAKKER_STRESS_SEED=<n> replays exactly that seed. Seeds start at a random base, printed on the
// first line; a failing seed is named in the failure (and on stderr if the process dies).
#include "stakker/coro/coro.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "stakker/call.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"

// Under ASan, its report names the seed too (the header exists without ASan; the
// function does not).
#if defined(__SANITIZE_ADDRESS__)
#define STAKKER_STRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STAKKER_STRESS_ASAN 1
#endif
#endif
#ifdef STAKKER_STRESS_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace {

using namespace std::chrono_literals;
using stakker::actor;
using stakker::actor_own;
using stakker::core;
using stakker::cx;
using stakker::fwd;
using stakker::fwd_do;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::stop_cause;
using stakker::coro::async_generator;
using stakker::coro::fwd_stream;
using stakker::coro::fwd_stream_result;
using stakker::coro::query;
using stakker::coro::query_result;
using stakker::coro::result;
using stakker::coro::ret_pipe;
using stakker::coro::ret_pipe_result;
using stakker::coro::sleep_for;
using stakker::coro::spawn_result;
using stakker::coro::task;
using stakker::coro::when_all;
using stakker::coro::when_any;
using stakker::coro::with_timeout;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

// The seed being run, for the crash handlers (a sanitizer report or a signal loses gtest's
// SCOPED_TRACE).
volatile std::uint64_t current_seed = 0;
volatile bool seed_running = false;

void say_seed() noexcept {
  if (!seed_running) return;
  char buf[96];
  const int n = std::snprintf(
      buf, sizeof buf, "\nstress: died in seed %llu (STAKKER_STRESS_SEED=%llu)\n",
      static_cast<unsigned long long>(current_seed), static_cast<unsigned long long>(current_seed));
  if (n > 0) (void)!::write(2, buf, static_cast<std::size_t>(n));
}

extern "C" void on_fatal_signal(int sig) {
  say_seed();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// What one fwd_stream's producer pushed and its reader read.
struct stream_log {
  std::vector<int> pushed;  // value ids, in push order
  std::size_t read = 0;     // how many the reader took
  bool ended = false;       // nullopt pushed: nothing more may be pushed
};

struct world;

// The producer side of a stream, held by the world until the driver drops it.
struct producer {
  fwd<std::optional<counted>> f;
  std::shared_ptr<stream_log> log;
};

// An actor answering queries: at once, never (drops the ret), later (held until flushed or
// the actor dies), or by failing.
struct worker {
  world* w;
  std::vector<ret<counted>> held;

  static worker init(cx<worker>&, world* wd) { return worker{wd, {}}; }
  void ask(cx<worker>& x, int mode, ret<counted> r);
  void flush(cx<worker>&);
  void fail(cx<worker>&) { throw std::runtime_error("worker failed"); }
  void start(cx<worker>& x, task<int> t, ret<result<int>> r) {
    spawn_result(x, std::move(t), std::move(r));
  }
};

struct world {
  std::mt19937_64 rng;
  core* c = nullptr;
  counts k;
  int next_id = 0;
  std::set<int> consumed;
  std::vector<std::string> errors;
  std::vector<ret<counted>> pipes;                   // pending ret_pipe feeders
  std::vector<std::shared_ptr<producer>> producers;  // pending stream producers
  std::vector<actor_own<worker>> actors;
  std::vector<int> answers;   // per root spawn: how many times its ret answered
  int tasks_made = 0;         // bounds the trees a seed grows
  bool tearing_down = false;  // the runtime is being destroyed

  explicit world(std::uint64_t seed) : rng(seed) {}

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  bool chance(int percent) { return pick(100) < percent; }
  stakker::duration ms(int n) { return std::chrono::milliseconds(n); }
  counted make_value() { return counted(k, next_id++); }
  void consume(const counted& v) {
    if (!consumed.insert(v.value()).second)
      errors.push_back("value " + std::to_string(v.value()) + " consumed twice");
  }
  void push(producer& p) {
    if (p.log->ended) return;
    counted v = make_value();
    p.log->pushed.push_back(v.value());
    p.f(std::optional<counted>(std::move(v)));
  }
  template <class T>
  T take_random(std::vector<T>& v) {
    const auto i = static_cast<std::size_t>(pick(static_cast<int>(v.size())));
    std::swap(v[i], v.back());
    T out = std::move(v.back());
    v.pop_back();
    return out;
  }
  actor_own<worker>& some_actor_own() {
    return actors[static_cast<std::size_t>(pick(static_cast<int>(actors.size())))];
  }
  actor<worker> some_actor() {
    return actors[static_cast<std::size_t>(pick(static_cast<int>(actors.size())))].ref();
  }
  void add_actor() { actors.push_back(make_actor<&worker::init>(*c, ret_nop<stop_cause>(), this)); }
  void spawn_root(int depth);
};

void worker::ask(cx<worker>&, int mode, ret<counted> r) {
  switch (mode) {
    case 0:
      r(w->make_value());
      break;
    case 1:
      break;  // dropped
    case 2:
      held.push_back(std::move(r));
      break;
    default:
      throw std::runtime_error("worker failed while asked");
  }
}

void worker::flush(cx<worker>&) {
  for (auto& r : std::exchange(held, {})) r(w->make_value());
}

// --- the leaves ---

task<int> leaf_sleep(world* w) {
  co_await sleep_for(*w->c, w->ms(w->pick(6)));
  co_return 1;
}

task<int> leaf_pipe(world* w) {
  if (w->chance(50)) {
    auto [aw, r] = ret_pipe<counted>(*w->c);
    w->pipes.push_back(std::move(r));
    counted v = co_await std::move(aw);
    w->consume(v);
  } else if (w->chance(50)) {
    auto [aw, r] = ret_pipe_result<counted>(*w->c);
    w->pipes.push_back(std::move(r));
    result<counted> v = co_await std::move(aw);
    if (v) w->consume(*v);
  } else {
    // A pull pipe: the request (user code run inside the first await) files the reply ret
    // with the others, answers it at once, or drops it.
    auto request = ret_do<ret<counted>>([w](std::optional<ret<counted>> reply) {
      if (!reply) return;
      switch (w->pick(3)) {
        case 0:
          w->pipes.push_back(std::move(*reply));
          break;
        case 1:
          (*reply)(w->make_value());
          break;
        default:
          break;
      }
    });
    if (w->chance(50)) {
      counted v = co_await stakker::coro::pull<counted>(*w->c, std::move(request));
      w->consume(v);
    } else {
      result<counted> v = co_await stakker::coro::pull_result<counted>(*w->c, std::move(request));
      if (v) w->consume(*v);
    }
  }
  co_return 1;
}

task<int> leaf_query(world* w) {
  if (w->actors.empty()) co_return 0;
  actor<worker> a = w->some_actor();
  const int mode = w->pick(5);  // 2 of 5: held until flushed
  if (w->chance(50)) {
    counted v = co_await query<&worker::ask>(a, mode == 4 ? 2 : mode);
    w->consume(v);
  } else {
    result<counted> v = co_await query_result<&worker::ask>(a, w->chance(5) ? 3 : mode % 3);
    if (v) w->consume(*v);
  }
  co_return 1;
}

// Yields n values numbered 0..n-1, awaiting a sleep or a pipe (drop mode: a dropped feeder
// drops the reading chain) before some of them.
async_generator<counted> numbers(world* w, int n) {
  for (int i = 0; i < n; ++i) {
    switch (w->pick(3)) {
      case 0:
        co_await sleep_for(*w->c, w->ms(w->pick(4)));
        break;
      case 1: {
        auto [aw, r] = ret_pipe<counted>(*w->c);
        w->pipes.push_back(std::move(r));
        counted fed = co_await std::move(aw);
        w->consume(fed);
        break;
      }
      default:
        break;
    }
    co_yield counted(w->k, i);
  }
}

task<int> leaf_generator(world* w) {
  auto gen = numbers(w, 1 + w->pick(4));
  int expect = 0;
  for (;;) {
    std::optional<counted> v;
    if (w->chance(50)) {
      v = co_await gen.next();
    } else {
      auto t = co_await with_timeout(*w->c, w->ms(w->pick(4)), gen.next());
      if (!t) continue;  // abandoned: the generator keeps its next value for us
      v = std::move(*t);
    }
    if (!v) break;
    if (v->value() != expect)
      w->errors.push_back("generator gave " + std::to_string(v->value()) + ", expected " +
                          std::to_string(expect));
    ++expect;
  }
  co_return expect;
}

// Checks one read against the producer's log.
void check_read(world* w, stream_log& log, const counted& v) {
  if (log.read >= log.pushed.size() || log.pushed[log.read] != v.value()) {
    w->errors.push_back("stream read value " + std::to_string(v.value()) + " out of order");
  }
  ++log.read;
  w->consume(v);
}

void check_all_read(world* w, const stream_log& log, const char* at) {
  if (log.read != log.pushed.size())
    w->errors.push_back(std::string("stream ") + at + " after " + std::to_string(log.read) +
                        " of " + std::to_string(log.pushed.size()) + " values");
}

// Reads a few items of a fresh stream, sometimes through with_timeout. Its `more` may push
// a value at once, from inside the reader's next() (the consumer modifying its own stream).
template <bool Result>
task<int> leaf_stream(world* w) {
  auto log = std::make_shared<stream_log>();
  auto slot = std::make_shared<std::weak_ptr<producer>>();
  fwd<> more;
  if (w->chance(50)) {
    more = fwd_do<>([w, slot] {
      if (auto p = slot->lock(); p && w->chance(30)) w->push(*p);
    });
  }
  auto made = [&] {
    if constexpr (Result) {
      return fwd_stream_result<counted>(*w->c, std::move(more));
    } else {
      return fwd_stream<counted>(*w->c, std::move(more));
    }
  }();
  auto reader = std::move(made.first);
  auto p = std::make_shared<producer>(producer{std::move(made.second), log});
  *slot = p;
  w->producers.push_back(std::move(p));
  const int n = 1 + w->pick(5);
  for (int i = 0; i < n; ++i) {
    typename decltype(reader)::item_type item;  // std::optional or stream_item: the end
    if (w->chance(40)) {
      auto t = co_await with_timeout(*w->c, w->ms(w->pick(4)), reader.next());
      if (!t) continue;  // abandoned: any value stays buffered for the next next()
      item = std::move(*t);
    } else {
      item = co_await reader.next();
    }
    bool ended = false;
    if constexpr (Result) {
      ended = item.ended();
    } else {
      ended = !item;
    }
    if (ended) {
      check_all_read(w, *log, "ended");
      break;
    }
    if constexpr (Result) {
      if (item.failed()) {
        check_all_read(w, *log, "failed");
        continue;  // then the end
      }
      check_read(w, *log, item.value());
    } else {
      check_read(w, *log, *item);
    }
  }
  co_return static_cast<int>(log->read);
}

// --- the trees ---

task<int> tree(world* w, int depth);

task<int> throws_after(world* w, int depth) {
  co_await tree(w, depth);
  throw std::runtime_error("tree threw");
}

task<int> tree(world* w, int depth) {
  ++w->tasks_made;
  const int leaves = 6;
  const int op = depth <= 0 || w->tasks_made > 400 ? w->pick(leaves) : w->pick(leaves + 10);
  switch (op) {
    case 0:
      co_return co_await leaf_sleep(w);
    case 1:
      co_return co_await leaf_pipe(w);
    case 2:
      co_return co_await leaf_query(w);
    case 3:
      co_return co_await leaf_generator(w);
    case 4:
      co_return co_await leaf_stream<false>(w);
    case 5:
      co_return co_await leaf_stream<true>(w);
    case 6:
    case 7: {
      auto [a, b, c] =
          co_await when_all(tree(w, depth - 1), tree(w, depth - 1), tree(w, depth - 1));
      co_return a + b + c;
    }
    case 8:
    case 9: {
      auto v = co_await when_any(tree(w, depth - 1), tree(w, depth - 1), tree(w, depth - 1));
      co_return static_cast<int>(v.index());
    }
    case 10: {
      auto v = co_await with_timeout(*w->c, w->ms(w->pick(8)), tree(w, depth - 1));
      co_return v ? *v : -1;
    }
    case 11: {
      const int a = co_await tree(w, depth - 1);
      const int b = co_await tree(w, depth - 1);
      co_return a + b;
    }
    case 12: {
      try {
        co_return co_await throws_after(w, depth - 1);
      } catch (const std::runtime_error&) {
      }
      co_return -2;
    }
    case 13:
      co_return co_await throws_after(w, depth - 1);  // escapes to the spawn: actor_fail
    case 14: {
      // Stops another actor (or this task's own) from inside a task.
      if (!w->actors.empty()) {
        if (w->chance(50)) {
          w->actors[static_cast<std::size_t>(w->pick(static_cast<int>(w->actors.size())))].kill(
              "killed by a task");
        } else {
          w->take_random(w->actors);  // the last actor_own: the actor stops
        }
      }
      co_return co_await tree(w, depth - 1);
    }
    default:
      w->spawn_root(depth - 1);  // a task spawning more while it runs
      co_return co_await tree(w, depth - 1);
  }
}

void world::spawn_root(int depth) {
  const std::size_t id = answers.size();
  answers.push_back(0);
  // The answer is user code run from the bridge (a completion, or a drop at an actor's stop
  // or at teardown): it sometimes spawns another root or stops an actor.
  // During teardown the runtime drops chains in an order that depends on addresses (ASLR),
  // so the choice is then made from the spawn's id, not the generator: a seed replays alike.
  auto r = ret_do<result<int>>([this, id, depth](std::optional<result<int>>) {
    ++answers[id];
    const bool spawn_more = tearing_down ? id % 5 == 0 : chance(10);
    const bool stop_one = tearing_down ? id % 7 == 0 : chance(10);
    if (answers.size() < 40 && spawn_more) spawn_root(depth);
    if (!actors.empty() && stop_one) {
      (tearing_down ? actors.front() : some_actor_own()).kill("stopped by a spawn's answer");
    }
  });
  if (!actors.empty() && chance(50)) {
    stakker::call<&worker::start>(some_actor(), tree(this, depth), std::move(r));
  } else {
    spawn_result(*c, tree(this, depth), std::move(r));
  }
}

// One seed: grows trees, drives them with random events in virtual time, tears down.
void run_seed(std::uint64_t seed) {
  world w(seed);
  auto loop = std::make_unique<virtual_loop>();
  w.c = &loop->core();
  for (int i = 0; i < 2; ++i) w.add_actor();
  for (int i = 0; i < 3; ++i) w.spawn_root(1 + w.pick(3));
  const int steps = 20 + w.pick(200);
  const int teardown_at = w.chance(40) ? w.pick(steps) : steps;
  for (int s = 0; s < teardown_at; ++s) {
    switch (w.pick(15)) {
      case 0:
      case 1:
      case 2:
        loop->advance(w.ms(w.pick(4)));
        break;
      case 3:
        if (!w.pipes.empty()) w.take_random(w.pipes)(w.make_value());
        break;
      case 4:
        if (!w.pipes.empty()) w.take_random(w.pipes).reset();
        break;
      case 5:
      case 6:
        if (!w.producers.empty())
          w.push(
              *w.producers[static_cast<std::size_t>(w.pick(static_cast<int>(w.producers.size())))]);
        break;
      case 7:
        if (!w.producers.empty()) {
          auto p = w.take_random(w.producers);
          if (!p->log->ended) {
            p->log->ended = true;
            p->f(std::nullopt);
          }
        }
        break;
      case 8:
        if (!w.producers.empty()) w.take_random(w.producers);  // the last copy: a failure
        break;
      case 9:
        if (!w.actors.empty()) {
          if (w.chance(50)) {
            w.take_random(w.actors).kill("killed by the driver");
          } else {
            w.take_random(w.actors);
          }
        }
        break;
      case 10:
        if (w.actors.size() < 4) w.add_actor();
        break;
      case 11:
        if (w.answers.size() < 40) w.spawn_root(1 + w.pick(3));
        break;
      case 12:
        if (!w.actors.empty()) stakker::call<&worker::flush>(w.some_actor());
        break;
      case 13:
        if (!w.actors.empty() && w.chance(30)) stakker::call<&worker::fail>(w.some_actor());
        break;
      default:
        loop->run();
        break;
    }
  }
  if (teardown_at == steps) {
    // Wind down: feed or drop everything until the runtime is quiet.
    for (int round = 0; round < 50 && (!w.pipes.empty() || !w.producers.empty()); ++round) {
      while (!w.pipes.empty()) {
        if (w.chance(70)) {
          w.take_random(w.pipes)(w.make_value());
        } else {
          w.take_random(w.pipes).reset();
        }
      }
      for (auto& p : w.producers) {
        if (!p->log->ended && w.chance(50)) {
          p->log->ended = true;
          p->f(std::nullopt);
        }
      }
      if (w.chance(50)) w.producers.clear();
      for (auto& a : w.actors) stakker::call<&worker::flush>(a);
      loop->advance(10ms);
    }
  }
  // Teardown, with the feeders dropped before or after the runtime: a ret or fwd outliving
  // the runtime (and the tasks it fed) must do nothing.
  const bool feeders_first = w.chance(50);
  if (feeders_first) {
    w.pipes.clear();
    w.producers.clear();
  }
  if (w.chance(50)) w.actors.clear();
  w.tearing_down = true;
  loop.reset();
  w.pipes.clear();
  w.producers.clear();
  w.actors.clear();

  for (const auto& e : w.errors) ADD_FAILURE() << e;
  EXPECT_TRUE(w.k.balanced()) << "alive " << w.k.alive() << ", destroyed twice "
                              << w.k.double_destroys;
  for (std::size_t i = 0; i < w.answers.size(); ++i)
    EXPECT_EQ(w.answers[i], 1) << "the ret of root spawn " << i;
}

std::optional<std::uint64_t> env_number(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::strtoull(v, nullptr, 10);
}

}  // namespace

TEST(coro_stress, random_trees_lose_no_value_answer_every_ret_once_and_leak_nothing) {
  std::signal(SIGSEGV, on_fatal_signal);
  std::signal(SIGABRT, on_fatal_signal);
#ifdef STAKKER_STRESS_ASAN
  __sanitizer_set_death_callback(say_seed);
#endif
  if (auto one = env_number("STAKKER_STRESS_SEED")) {
    current_seed = *one;
    seed_running = true;
    SCOPED_TRACE("STAKKER_STRESS_SEED=" + std::to_string(*one));
    run_seed(*one);
    seed_running = false;
    return;
  }
  const auto budget = std::chrono::seconds(env_number("STAKKER_STRESS_SECONDS").value_or(10));
  const std::uint64_t max_seeds = env_number("STAKKER_STRESS_SEEDS").value_or(20000);
  const std::uint64_t base = std::random_device{}() * 100'000ull;
  std::printf("stress: seeds from %llu (replay one with STAKKER_STRESS_SEED=<seed>)\n",
              static_cast<unsigned long long>(base));
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t n = 0;
  for (; n < max_seeds && std::chrono::steady_clock::now() - start < budget; ++n) {
    const std::uint64_t seed = base + n;
    current_seed = seed;
    seed_running = true;
    SCOPED_TRACE("STAKKER_STRESS_SEED=" + std::to_string(seed));
    run_seed(seed);
    seed_running = false;
    if (::testing::Test::HasFailure()) {
      std::printf("stress: seed %llu failed\n", static_cast<unsigned long long>(seed));
      break;
    }
  }
  std::printf("stress: %llu seeds\n", static_cast<unsigned long long>(n));
}
