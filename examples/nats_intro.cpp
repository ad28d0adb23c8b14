// SPDX-License-Identifier: MIT OR Apache-2.0
// The NATS bridge's first steps, quoted by docs/nats.md: a connection, a subscription, a
// service answering from an actor's member, and a request to it. It starts a nats-server of
// its own on a free loopback port, and stops it at the end.
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "demo_process.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/nats/nats.hpp"
#include "stakker/stakker.hpp"

using namespace stakker;

// Prints "a: b".
void show(std::string_view a, std::string_view b) {
  std::printf("%.*s: %.*s\n", static_cast<int>(a.size()), a.data(), static_cast<int>(b.size()),
              b.data());
}

// [guide:service]
struct pricer {
  static pricer init(cx<pricer>&) { return {}; }
  // A request's payload is an item; the reply its price. Dropping `r` (or failing) would
  // answer the requester with an error reply instead.
  void price(cx<pricer>&, nats::message m, ret<nats::service_reply> r) {
    r(nats::service_reply{std::string(m.data()) + ": 42", {}});
  }
};
// [/guide:service]

int main() {
  const int port = demo::free_port();
  demo::child_process server({STAKKER_NATS_SERVER, "-a", "127.0.0.1", "-p", std::to_string(port)},
                             true);
  if (!server.wait_listening(port)) return 1;

  runtime rt;
  loop::epoll_loop loop(rt);
  actor_own<pricer> prices = make_actor<&pricer::init>(rt, ret_shutdown(rt));
  std::shared_ptr<nats::connection> conn;
  nats::subscription news, service;
  // [guide:connect]
  nats::options o;
  o.servers = {"nats://127.0.0.1:" + std::to_string(port)};
  conn = nats::connection::connect(
      rt, o, fwd_do<nats::event>([](nats::event e) {
        std::printf("event: %s %s\n", nats::to_string(e.what), e.text.c_str());
      }),
      ret_do<coro::result<void>>([&](std::optional<coro::result<void>> ready) {
        if (!ready || !ready->has_value()) return rt.shutdown(stop_cause::failed("no server"));
        // Each message on news.* reaches this fwd on the runtime's thread, in order.
        news = conn->subscribe(
            "news.*", fwd_do<nats::message>([](nats::message m) { show(m.subject(), m.data()); }));
        // The actor's member serves "prices" (in queue group "pricers": more instances
        // would share the load).
        service = nats::serve<&pricer::price>(*conn, "prices", prices, "pricers");
        conn->publish("news.tea", "a new blend");
        // Answered once: the reply, or an actor_fail naming why (timeout, no responders).
        conn->request("prices", "oolong", std::chrono::seconds(1),
                      ret_do<coro::result<nats::message>>(
                          [&](std::optional<coro::result<nats::message>> reply) {
                            if (reply && reply->has_value()) show("price", (*reply)->data());
                            rt.shutdown(stop_cause::stopped());
                          }));
      }));
  // [/guide:connect]
  const stop_cause cause = loop.run();
  std::printf("shutdown: %s\n", cause.text().c_str());
  news.reset();
  service.reset();
  conn.reset();
  return cause.has_error() ? 1 : 0;
}
