// SPDX-License-Identifier: MIT OR Apache-2.0
// A supervisor that restarts a failing worker, requests answered through `ret`, and a
// `fwd` subscription, all in virtual time: the loop below passes the time in.
//
//   tools/dev demo            (or build/release/examples/stakker_demo [jobs])
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "stakker/stakker.hpp"

using namespace stakker;
using namespace std::chrono_literals;

namespace {

instant start_time;

void say(const core& c, const std::string& who, const std::string& what) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(c.now() - start_time).count();
  std::printf("[t=%5lldms] %-10s %s\n", static_cast<long long>(ms), who.c_str(), what.c_str());
}

// Squares numbers; crashes (throws) on every multiple of 4, which fails this actor only.
class worker {
 public:
  static worker init(cx<worker>& x, int generation) {
    say(x.core(), "worker", "#" + std::to_string(generation) + " ready");
    return worker{generation};
  }

  void square(cx<worker>& x, int job, ret<int> reply) {
    if (job % 4 == 0)
      throw std::runtime_error("worker #" + std::to_string(generation_) + " crashed on job " +
                               std::to_string(job));
    say(x.core(), "worker", "#" + std::to_string(generation_) + " squares " + std::to_string(job));
    reply(job * job);
  }

 private:
  explicit worker(int generation) : generation_(generation) {}
  int generation_;
};

// Owns the worker, restarts it when it fails (up to a limit), and publishes what happens
// to every subscriber through a fwd.
class supervisor {
 public:
  static supervisor init(cx<supervisor>& x, int max_restarts) {
    supervisor s(max_restarts);
    s.start_worker(x);
    return s;
  }

  void subscribe(cx<supervisor>&, fwd<std::string> events) { subscribers_.push_back(events); }

  // Requests go through the supervisor; if the worker dies holding a request, its `ret` is
  // destroyed and the client hears "none".
  void request(cx<supervisor>&, int job, ret<int> reply) {
    call<&worker::square>(worker_, job, std::move(reply));
  }

  void worker_stopped(cx<supervisor>& x, std::optional<stop_cause> cause) {
    std::string why = cause ? cause->text() : "no cause";
    publish("worker stopped: " + why);
    if (!cause || !cause->has_error()) return;
    if (restarts_ == max_restarts_) {
      publish("too many restarts; giving up");
      x.fail("worker keeps failing");
      return;
    }
    ++restarts_;
    start_worker(x);
  }

 private:
  explicit supervisor(int max_restarts) : max_restarts_(max_restarts) {}

  void start_worker(cx<supervisor>& x) {
    ++generation_;
    worker_ = make_actor<&worker::init>(
        x, ret_to<stop_cause, &supervisor::worker_stopped>(x.this_actor()), generation_);
    publish("started worker #" + std::to_string(generation_));
  }
  void publish(const std::string& event) {
    for (auto& s : subscribers_) s(event);
  }

  actor_own<worker> worker_;
  std::vector<fwd<std::string>> subscribers_;
  int generation_ = 0;
  int restarts_ = 0;
  int max_restarts_;
};

// Sends one job per tick; retries a job whose answer was lost; stops after the last one.
class client {
 public:
  static client init(cx<client>& x, actor<supervisor> sup, int jobs) {
    call<&supervisor::subscribe>(sup, fwd_to<std::string, &client::event>(x.this_actor()));
    return client(std::move(sup), jobs);
  }

  void tick(cx<client>& x) {
    if (waiting_ || next_ > jobs_) return;
    waiting_ = true;
    call<&supervisor::request>(supervisor_, next_, ret_to<int, &client::answer>(x.this_actor()));
  }

  void answer(cx<client>& x, std::optional<int> result) {
    waiting_ = false;
    if (!result) {
      say(x.core(), "client", "job " + std::to_string(next_) + ": no answer (worker died); retry");
      if (++retries_ > 1) {
        say(x.core(), "client", "job " + std::to_string(next_) + ": giving up on it");
        retries_ = 0;
        ++next_;
      }
    } else {
      say(x.core(), "client", "job " + std::to_string(next_) + " -> " + std::to_string(*result));
      retries_ = 0;
      ++next_;
    }
    if (next_ > jobs_) x.stop();
  }

  void event(cx<client>& x, std::string what) { say(x.core(), "event", what); }

 private:
  client(actor<supervisor> sup, int jobs) : supervisor_(std::move(sup)), jobs_(jobs) {}

  actor<supervisor> supervisor_;
  int jobs_;
  int next_ = 1;
  int retries_ = 0;
  bool waiting_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  int jobs = 10;
  if (argc > 1) {
    char* end = nullptr;
    long n = std::strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || n < 1 || n > 1000) {
      std::fprintf(stderr, "usage: %s [jobs: 1..1000]\n", argv[0]);
      return 2;
    }
    jobs = static_cast<int>(n);
  }

  start_time = instant{};
  instant now = start_time;
  runtime rt(now);

  auto sup = make_actor<&supervisor::init>(rt, ret_shutdown(rt), 5);
  auto cli = make_actor<&client::init>(rt, ret_shutdown(rt), sup.ref(), jobs);

  // The loop: virtual time moves 100 ms per step; the client gets one tick per step.
  for (int step = 0; step < 10'000 && !rt.is_shutdown(); ++step) {
    call<&client::tick>(cli);
    rt.run(now, false);
    now += 100ms;
  }
  const auto& cause = rt.shutdown_cause();
  std::printf("shutdown: %s\n", cause ? cause->text().c_str() : "loop ended without one");
  return cause && !cause->has_error() ? 0 : 1;
}
