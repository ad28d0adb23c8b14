// SPDX-License-Identifier: MIT OR Apache-2.0
// The coroutine bridge in one program (docs/coroutines.md walks through it). Virtual time:
// the loop below passes the time in, so the output is the same on every run.
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "stakker/coro/coro.hpp"
#include "stakker/stakker.hpp"
#include "stakker/testing/virtual_loop.hpp"

using namespace stakker;
using namespace stakker::coro;
using namespace std::chrono_literals;

namespace {

// An ordinary actor: answers through a ret, publishes through a fwd.
class store {
 public:
  static store init(cx<store>&) { return {}; }
  void put(cx<store>&, std::string key, int value) { data_[key] = value; }
  void get(cx<store>&, std::string key, ret<int> reply) {
    if (auto it = data_.find(key); it != data_.end()) reply(it->second);
    // else: `reply` is dropped unanswered, and the caller hears "none"
  }
  // Streams every entry to `out`, then the end.
  void scan(cx<store>&, fwd<std::optional<std::string>> out) {
    for (auto& [k, v] : data_) out(k + "=" + std::to_string(v));
    out(std::nullopt);
  }

 private:
  std::map<std::string, int> data_;
};

// Actor calls from async code: query gives the answer (drop mode) or a result (result mode).
task<int> sum_of(actor<store> s) {
  int a = co_await query(s, &store::get, std::string("a"));
  int b = co_await query(s, &store::get, std::string("b"));
  co_return a + b;
}

task<std::string> lookup(actor<store> s, std::string key) {
  result<int> r = co_await query_result(s, &store::get, key);
  co_return r ? key + " -> " + std::to_string(*r) : key + " -> missing (" + r.error().what() + ")";
}

// Timers and combinators.
task<std::string> slow(core& c) {
  co_await sleep_for(c, 50ms);
  co_return "slow";
}
task<std::string> fast(core& c) {
  co_await sleep_for(c, 10ms);
  co_return "fast";
}

// A generator: co_await and co_yield in one coroutine.
async_generator<int> ticks(core& c, int n) {
  for (int i = 1; i <= n; ++i) {
    co_await sleep_for(c, 100ms);
    co_yield i;
  }
}

// A result-mode stream: each read is a value, the producer's failure, or the end.
task<int> sum_prices(stream_result_reader<int> reader) {
  int total = 0;
  // [guide:stream_item]
  for (;;) {
    auto item = co_await reader.next();
    if (item.ended()) break;
    if (item.failed()) {
      std::printf("price feed failed: %s\n", item.error().what().c_str());
      break;
    }
    total += item.value();
  }
  // [/guide:stream_item]
  co_return total;
}

}  // namespace

int main() {
  testing::virtual_loop loop;
  runtime& rt = loop.rt();
  auto s = make_actor<&store::init>(rt, ret_shutdown(rt));
  call<&store::put>(s, std::string("a"), 20);
  call<&store::put>(s, std::string("b"), 22);

  // Future → Ret: the task's value goes to a ret.
  auto print_int = [](const char* what) {
    return ret_do<int>([what](std::optional<int> v) {
      std::printf("%s: %s\n", what, v ? std::to_string(*v).c_str() : "none");
    });
  };
  auto print_text = [](const char* what) {
    return ret_do<std::string>([what](std::optional<std::string> v) {
      std::printf("%s: %s\n", what, v ? v->c_str() : "none");
    });
  };
  spawn(rt, sum_of(s.ref()), print_int("sum"));
  spawn(rt, lookup(s.ref(), "zz"), print_text("lookup"));

  // Ret → Future: a push pipe. The coroutine waits; any code with the ret answers it.
  auto [answer, answer_ret] = ret_pipe<int>(rt);
  spawn(
      rt, [](auto aw) -> task<int> { co_return co_await std::move(aw) * 2; }(std::move(answer)),
      print_int("doubled"));
  answer_ret(21);

  // A dropped ret drops the waiting task (drop mode): its spawn answers "none".
  auto [never, never_ret] = ret_pipe<int>(rt);
  spawn(
      rt, [](auto aw) -> task<int> { co_return co_await std::move(aw); }(std::move(never)),
      print_int("dropped"));
  { auto gone = std::move(never_ret); }

  // when_any: the first to finish wins; the other is destroyed where it waits.
  spawn(
      rt,
      [](core& c) -> task<std::string> {
        auto w = co_await when_any(slow(c), fast(c));
        co_return std::get<1>(w);
      }(rt),
      print_text("race"));

  // Stream → Fwd: every tick, then the end.
  spawn_stream(rt, ticks(rt, 3), fwd_do<std::optional<int>>([](std::optional<int> v) {
                 std::printf("tick: %s\n", v ? std::to_string(*v).c_str() : "end");
               }));

  // Fwd → Stream: the store scans into a fwd; a task reads it as a stream.
  auto [reader, feed] = fwd_stream<std::string>(rt);
  call<&store::scan>(s, feed);
  spawn(
      rt,
      [](auto rd) -> task<int> {
        int n = 0;
        while (auto entry = co_await rd.next()) {
          std::printf("entry: %s\n", entry->c_str());
          ++n;
        }
        co_return n;
      }(std::move(reader)),
      print_int("entries"));

  // Fwd → Stream, result mode: the producer goes before the end, so the reader gets the
  // values, then one failed item.
  auto [prices, price_feed] = fwd_stream_result<int>(rt);
  price_feed(101);
  price_feed(99);
  spawn(rt, sum_prices(std::move(prices)), print_int("price total"));
  { auto gone = std::move(price_feed); }

  for (int i = 0; i < 50; ++i) loop.advance(10ms);
  s.reset();  // the last owner goes: the store stops, and with it the runtime
  loop.run();
  const auto& cause = rt.shutdown_cause();
  std::printf("shutdown: %s\n", cause ? cause->text().c_str() : "none");
  return 0;
}
