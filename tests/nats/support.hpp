// SPDX-License-Identifier: MIT OR Apache-2.0
// A runtime on an epoll_loop with a connection to a test's nats-server.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nats/server.hpp"
#include "stakker/nats/nats.hpp"
#include "stakker/runtime.hpp"

namespace nats_test {

using namespace std::chrono_literals;
using stakker::nats::connection;
using stakker::nats::event;
using stakker::nats::message;

// What a connection reported: its events, and the answer to connect's ready.
struct watch {
  std::vector<event> events;
  std::optional<stakker::coro::result<void>> ready;
  bool has(event::kind k) const {
    for (const event& e : events)
      if (e.what == k) return true;
    return false;
  }
  std::size_t count(event::kind k) const {
    std::size_t n = 0;
    for (const event& e : events) n += e.what == k ? 1 : 0;
    return n;
  }
};

struct env {
  stakker::runtime rt;
  stakker::loop::epoll_loop loop{rt};

  // Connects and turns the loop until connected (or failed).
  std::shared_ptr<connection> connect(watch& w, stakker::nats::options o) {
    auto c = connection::connect(rt, std::move(o), stakker::fwd_do<event>([&w](event e) {
                                   w.events.push_back(std::move(e));
                                 }),
                                 stakker::ret_do<stakker::coro::result<void>>(
                                     [&w](std::optional<stakker::coro::result<void>> r) {
                                       if (r) w.ready = std::move(*r);
                                     }));
    EXPECT_TRUE(run_until(loop, [&] { return w.ready.has_value(); }));
    return c;
  }
  std::shared_ptr<connection> connect(watch& w, const server& s) {
    stakker::nats::options o;
    o.servers = {s.url()};
    auto c = connect(w, std::move(o));
    EXPECT_TRUE(w.ready && w.ready->has_value());
    return c;
  }
  template <class F>
  bool until(F f, std::chrono::milliseconds limit = 10000ms) {
    return run_until(loop, f, limit);
  }
  // Returns once the server has processed everything `c` sent so far (its subscriptions
  // included): a request nobody serves comes back "no responders" after them.
  void sync(connection& c) {
    bool back = false;
    c.request("_sync.nobody", "", 5s,
              stakker::ret_do<stakker::coro::result<message>>(
                  [&](std::optional<stakker::coro::result<message>>) { back = true; }));
    EXPECT_TRUE(until([&] { return back; }));
  }
};

// The nats::error an actor_fail holds.
inline const stakker::nats::error* nats_error(const stakker::coro::actor_fail& f) {
  try {
    if (f.exception) std::rethrow_exception(f.exception);
  } catch (const stakker::nats::error& e) {
    static thread_local std::optional<stakker::nats::error> kept;
    kept.emplace(e);
    return &*kept;
  } catch (...) {
  }
  return nullptr;
}

}  // namespace nats_test
