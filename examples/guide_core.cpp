// SPDX-License-Identifier: MIT OR Apache-2.0
// docs/guide-core.md's code: actors and their lifecycle, ret and fwd, share, timers, the
// three queues, and testing in virtual time. Each region between `// [guide:NAME]` and
// `// [/guide:NAME]` is quoted in the guide word for word (tools/check_guide_snippets.py
// checks it). Everything runs on one thread in virtual time, so the output never changes.
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stakker/stakker.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"

using namespace stakker;
using namespace std::chrono_literals;
using stakker::testing::virtual_loop;

namespace {

// [guide:actor]
// An actor is a plain class; its members are its messages. Each takes cx<A>& first.
class account {
 public:
  // The init: a static member returning A (or std::optional<A>: see "Prep" below).
  static account init(cx<account>&, std::string owner) { return account(std::move(owner)); }

  void deposit(cx<account>&, int amount) { balance_ += amount; }
  void withdraw(cx<account>& cx, int amount) {
    if (amount > balance_) return cx.fail("overdrawn");  // the actor ends when this returns
    balance_ -= amount;
  }
  void balance(cx<account>&, ret<int> reply) { reply(balance_); }

 private:
  explicit account(std::string owner) : owner_(std::move(owner)) {}
  std::string owner_;
  int balance_ = 0;
};
// [/guide:actor]

void actors() {
  // [guide:make_actor]
  virtual_loop vl;  // a runtime in virtual time (see "Testing"); vl.core() is its core
  actor_own<account> acc = make_actor<&account::init>(vl.core(), ret_nop<stop_cause>(), "ann");
  actor<account> ref = acc.ref();    // refers, does not own: copy it freely
  call<&account::deposit>(acc, 50);  // queued: nothing has run yet, not even the init
  call<&account::withdraw>(ref, 20);
  call(ref, &account::withdraw, 5);  // the same, through a member pointer
  std::printf("actor: prep %d\n", acc.is_prep());
  vl.run();  // the init, then the three calls, in the order they were made
  call<&account::balance>(acc, ret_do<int>([](std::optional<int> b) {
                            std::printf("actor: ready, balance %d\n", b.value_or(-1));
                          }));
  vl.run();
  // [/guide:make_actor]
}

// [guide:prep]
// An init that returns an empty optional leaves the actor in Prep: calls to it are parked
// until a later Prep call (call_prep) gives it its state.
class connection {
 public:
  static std::optional<connection> init(cx<connection>&) { return std::nullopt; }  // not yet
  static std::optional<connection> connected(cx<connection>&, std::string peer) {
    return connection(std::move(peer));
  }
  void send(cx<connection>&, std::string text) {
    std::printf("prep: to %s: %s\n", peer_.c_str(), text.c_str());
  }
  void hang_up(cx<connection>& cx) { cx.stop(); }

 private:
  explicit connection(std::string peer) : peer_(std::move(peer)) {}
  std::string peer_;
};

// A notify ret that prints how an actor ended (ret_do runs inline, when answered).
ret<stop_cause> report(const char* name) {
  return ret_do<stop_cause>([name](std::optional<stop_cause> cause) {
    std::printf("stop: %s: %s\n", name, cause ? cause->text().c_str() : "(none)");
  });
}

void lifecycle() {
  virtual_loop vl;
  actor_own<connection> l = make_actor<&connection::init>(vl.core(), report("connection"));
  call<&connection::send>(l, "hello");  // parked: the actor is in Prep
  vl.run();
  std::printf("prep: still prep %d\n", l.is_prep());
  call_prep<&connection::connected>(l, "bob");  // Ready; then the parked send runs
  call<&connection::hang_up>(l);                // stops it (stop_cause stopped)
  call<&connection::send>(l, "lost");           // reaches a Zombie: dropped
  vl.run();
  std::printf("prep: zombie %d\n", l.is_zombie());
}
// [/guide:prep]

void stop_causes() {
  // [guide:stop]
  virtual_loop vl;
  auto failing = make_actor<&account::init>(vl.core(), report("failing"), "bo");
  auto killed = make_actor<&account::init>(vl.core(), report("killed"), "cy");
  auto dropped = make_actor<&account::init>(vl.core(), report("dropped"), "di");
  call<&account::withdraw>(failing, 10);  // more than it holds: cx.fail
  vl.run();
  killed.kill("closed by the bank");  // from outside, at once
  dropped.reset();                    // the last owner went: the stop is queued
  vl.run();
  // [/guide:stop]
}

// [guide:ret]
class teller {
 public:
  static teller init(cx<teller>& cx) {
    // A child whose failure fails the teller too; its stop or drop would not.
    auto acc = make_actor<&account::init>(cx, ret_failthru(cx), "eve");
    call<&account::deposit>(acc, 30);
    return teller(std::move(acc));
  }
  void ask(cx<teller>& cx) {
    // The answer comes back as a queued call: std::optional, empty for "none".
    call<&account::balance>(acc_, ret_to<int, &teller::answer>(cx));
    // ret_some_to: the member takes an int and is not called at all for "none".
    call<&account::balance>(acc_, ret_some_to<int, &teller::answer_some>(cx));
    // The member-pointer form also takes fixed leading arguments.
    call<&account::balance>(acc_, ret_to<int>(cx, &teller::answer_for, std::string("eve")));
  }
  void overdraw(cx<teller>&) { call<&account::withdraw>(acc_, 1000); }

  void answer(cx<teller>&, std::optional<int> b) {
    std::printf("ret: balance %s\n", b ? std::to_string(*b).c_str() : "none");
  }
  void answer_some(cx<teller>&, int b) { std::printf("ret: some %d\n", b); }
  void answer_for(cx<teller>&, std::string who, std::optional<int> b) {
    std::printf("ret: %s has %d\n", who.c_str(), b.value_or(-1));
  }

 private:
  explicit teller(actor_own<account> acc) : acc_(std::move(acc)) {}
  actor_own<account> acc_;
};

void rets() {
  virtual_loop vl;
  // ret_shutdown: when the teller ends, the runtime is asked to shut down with its cause.
  auto t = make_actor<&teller::init>(vl.core(), ret_shutdown(vl.core()));
  call<&teller::ask>(t);
  vl.run();
  {
    // A ret destroyed uncalled answers "none".
    ret<int> r = ret_do<int>(
        [](std::optional<int> v) { std::printf("ret: ret_do got %s\n", v ? "a value" : "none"); });
  }
  call<&teller::overdraw>(t);  // the child fails, so the teller fails, so the runtime stops
  vl.run();
  std::printf("ret: shutdown: %s\n", vl.rt().shutdown_cause()->text().c_str());
}
// [/guide:ret]

// [guide:fwd]
class ticker {
 public:
  static ticker init(cx<ticker>&) { return {}; }
  void price(cx<ticker>&, std::string symbol, int cents) {
    std::printf("fwd: %s %d\n", symbol.c_str(), cents);
  }
};

class exchange {
 public:
  static exchange init(cx<exchange>&) { return {}; }
  void subscribe(cx<exchange>&, fwd<int> to) { subscribers_.push_back(std::move(to)); }
  void trade(cx<exchange>&, int cents) {
    for (const fwd<int>& s : subscribers_) s(cents);
  }

 private:
  std::vector<fwd<int>> subscribers_;
};

void fwds() {
  virtual_loop vl;
  auto t = make_actor<&ticker::init>(vl.core(), ret_nop<stop_cause>());
  auto ex = make_actor<&exchange::init>(vl.core(), ret_nop<stop_cause>());
  // fwd_to: every call queues t.price("ACME", value) (a fixed argument, then the value).
  call<&exchange::subscribe>(ex, fwd_to<int, &ticker::price>(t, std::string("ACME")));
  // fwd_do: a callable, run inline by each call of the fwd.
  int total = 0;
  call<&exchange::subscribe>(ex, fwd_do<int>([&total](int cents) { total += cents; }));
  call<&exchange::trade>(ex, 101);
  call<&exchange::trade>(ex, 99);
  vl.run();
  std::printf("fwd: total %d\n", total);
}
// [/guide:fwd]

// [guide:share]
struct hit_stats {
  int hits = 0;
};

class page {
 public:
  static page init(cx<page>&, share<hit_stats> stats) { return page(std::move(stats)); }
  // Borrowed through the core, for this one statement: never across a queued call.
  void hit(cx<page>& cx) { ++stats_.rw(cx)->hits; }

 private:
  explicit page(share<hit_stats> stats) : stats_(std::move(stats)) {}
  share<hit_stats> stats_;
};

void shares() {
  virtual_loop vl;
  share_weak<hit_stats> weak;
  {
    share<hit_stats> stats(vl.core());
    auto home = make_actor<&page::init>(vl.core(), ret_nop<stop_cause>(), stats);
    auto about = make_actor<&page::init>(vl.core(), ret_nop<stop_cause>(), stats);
    call<&page::hit>(home);
    call<&page::hit>(about);
    call<&page::hit>(home);
    vl.run();
    std::printf("share: %d hits, %u holders\n", stats.ro(vl.core())->hits, stats.strong_count());
    weak = stats.downgrade();  // does not keep the value alive
  }
  vl.run();  // the pages stop (their owners went), and with them the last shares
  std::printf("share: expired %d\n", weak.expired());
}
// [/guide:share]

// [guide:timers]
class session {
 public:
  static session init(cx<session>& cx) {
    session s(cx.now());
    after<&session::tick>(cx, 100ms, 1);  // a fixed timer calling a member, with arguments
    // A timer deleted before it fires never runs; the key then matches nothing.
    s.timeout_ = after<&session::timed_out>(cx, 50ms);
    return s;
  }
  void tick(cx<session>& cx, int n) {
    std::printf("timers: tick %d at %lld ms\n", n, ms(cx));
    if (n < 3) after<&session::tick>(cx, 100ms, n + 1);
  }
  void answered(cx<session>& cx) {
    const bool deleted = cx.core().timer_del(timeout_);
    const bool again = cx.core().timer_del(timeout_);  // the key matches nothing now
    std::printf("timers: timeout deleted %d, again %d\n", deleted, again);
  }
  void timed_out(cx<session>&) { std::printf("timers: timed out\n"); }

  // "Save 200 ms after the last edit": a max timer fires at the latest expiry it was
  // given, and pushing it later costs O(1).
  void edit(cx<session>& cx) {
    const instant due = cx.now() + 200ms;
    if (!cx.core().timer_max_upd(save_, due)) save_ = timer_max_add<&session::save>(cx, due);
  }
  void save(cx<session>& cx) { std::printf("timers: saved at %lld ms\n", ms(cx)); }

  // "Flush by the earliest deadline asked for": a min timer fires at the earliest expiry.
  void need_by(cx<session>& cx, duration d) {
    const instant due = cx.now() + d;
    if (!cx.core().timer_min_upd(flush_, due)) flush_ = timer_min_add<&session::flush>(cx, due);
  }
  void flush(cx<session>& cx) { std::printf("timers: flushed at %lld ms\n", ms(cx)); }

 private:
  explicit session(instant start) : start_(start) {}
  long long ms(cx<session>& cx) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(cx.now() - start_).count();
  }
  instant start_;
  timer_key timeout_;
  max_timer_key save_;
  min_timer_key flush_;
};

void timers() {
  virtual_loop vl;
  auto s = make_actor<&session::init>(vl.core(), ret_nop<stop_cause>());
  vl.run();
  call<&session::answered>(s);
  call<&session::edit>(s);            // save due at 200 ms
  call<&session::need_by>(s, 250ms);  // flush due at 250 ms
  vl.run();
  vl.advance(40ms);
  call<&session::edit>(s);            // at 40 ms: save moved to 240 ms
  call<&session::need_by>(s, 120ms);  // flush moved to 160 ms
  vl.run();
  for (int i = 0; i < 30; ++i) vl.advance(10ms);  // on to 340 ms, 10 ms at a time
}
// [/guide:timers]

void queues() {
  // [guide:queues]
  virtual_loop vl;
  core& c = vl.core();
  c.idle([](core&) { std::printf("queues: idle\n"); });
  c.lazy([](core&) { std::printf("queues: lazy\n"); });
  c.defer([](core& c2) {
    std::printf("queues: main 1\n");
    c2.defer([](core&) { std::printf("queues: main 3, queued by main 1\n"); });
  });
  c.defer([](core&) { std::printf("queues: main 2\n"); });
  vl.run();             // main 1, main 2, main 3, then lazy: the idle item waits
  vl.run_until_idle();  // as a loop that found nothing else to do: idle items run
  // [/guide:queues]
}

// [guide:testing]
class sink {
 public:
  static sink init(cx<sink>&) { return {}; }
  void take(cx<sink>&, stakker::testing::counted c) { taken_ += c.value(); }

 private:
  int taken_ = 0;
};

void test_in_virtual_time() {
  stakker::testing::counts n;
  {
    virtual_loop vl;
    auto s = make_actor<&sink::init>(vl.core(), report("sink"));
    actor<sink> ref = s.ref();
    call<&sink::take>(ref, stakker::testing::counted(n, 1));  // runs
    after<&sink::take>(ref, 1s, stakker::testing::counted(n, 2));
    vl.advance(1s);  // virtual: no second passes, the timer fires
    after<&sink::take>(ref, 1s, stakker::testing::counted(n, 3));
    s.reset();  // the sink stops: the pending timer will find a Zombie
    vl.run();
    call<&sink::take>(ref, stakker::testing::counted(n, 4));  // dropped: a Zombie
    vl.run();
  }  // the runtime goes: what is still queued or pending is destroyed unrun
  std::printf("testing: %ld alive, balanced %d\n", n.alive(), n.balanced());
}
// [/guide:testing]

}  // namespace

int main() {
  actors();
  lifecycle();
  stop_causes();
  rets();
  fwds();
  shares();
  timers();
  queues();
  test_in_virtual_time();
}
