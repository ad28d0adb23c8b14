// SPDX-License-Identifier: MIT OR Apache-2.0
// The cluster demo's load generator: chat clients spread over several server processes,
// each saying its messages and checking everything it hears. Every client checks, for
// each sender, that its messages arrive in order with none missing in between; at the end,
// every client still connected must have heard every message of every other client still
// connected. One server process may be killed mid-run (`kill`): its clients are cut off
// (expected), the others must not notice.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../chat/protocol.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/tcp_stream.hpp"
#include "stakker/stakker.hpp"

namespace cluster {

using namespace stakker;

struct load_options {
  std::vector<loop::socket_address> servers;  // client i connects to servers[i % size]
  int clients = 40;
  int messages = 500;  // per client
  int window = 4;
  // Called once, when this share of all messages has been answered (0: never).
  double kill_at = 0;
  std::function<void()> kill;
  std::size_t kill_server = 1;  // the index of the server `kill` kills (its clients are cut off)
};

struct client_result {
  std::uint64_t id = 0;
  std::size_t server = 0;
  int acked = 0;                                 // own messages echoed back
  bool cut_off = false;                          // its connection ended before it finished
  std::map<std::uint64_t, std::uint64_t> heard;  // sender id -> next seq expected
  std::vector<std::string> problems;
};

struct load_report {
  double seconds = 0;
  double kill_seconds = 0;  // when the kill happened (0: no kill)
  bool killed = false;
  std::uint64_t acked = 0;                     // own messages echoed back, all clients
  std::vector<std::int64_t> own_latency_ns;    // say -> own echo, through one server
  std::vector<std::int64_t> cross_latency_ns;  // say -> heard on another server's client
  std::uint64_t lines = 0;
  std::vector<client_result> clients;
};

class client {
 public:
  static client init(cx<client>& x, const load_options* opt, load_report* rep, std::size_t index,
                     instant start) {
    client c(opt, rep, index, start);
    loop::epoll_loop& lp = *x.core().anymap_get<loop::epoll_loop*>();
    c.res().server = index % opt->servers.size();
    c.stream_ = loop::tcp_stream::connect(lp, opt->servers[c.res().server],
                                          fwd_to<std::uint32_t, &client::ready>(x.this_actor()));
    c.stream_.set_nodelay(true);
    return c;
  }

  void ready(cx<client>& x, std::uint32_t events) {
    const loop::read_result r = stream_.read(events);
    const std::string_view input = stream_.input();
    stream_.consume(
        chat::for_each_line(input, [&](std::string_view line) { return handle(line); }));
    if (r.error || r.eof) {
      if (!closing_) res().cut_off = true;
      return x.stop();
    }
    if (stream_.flush()) {
      res().cut_off = true;
      return x.stop();
    }
  }

  // Half-closes: the driver decides when everybody has heard everything.
  void finish(cx<client>&) {
    closing_ = true;
    stream_.close_write();
    stream_.flush();
  }

 private:
  client(const load_options* opt, load_report* rep, std::size_t index, instant start)
      : opt_(opt), rep_(rep), index_(index), start_(start) {}

  client_result& res() { return rep_->clients[index_]; }

  bool handle(std::string_view line) {
    if (line.starts_with("HELLO ")) {
      line.remove_prefix(6);
      if (auto id = chat::take_number(line)) res().id = *id;
      send_more();
      return true;
    }
    if (!line.starts_with("FROM ")) {
      res().problems.push_back("unexpected line: " + std::string(line));
      return true;
    }
    ++rep_->lines;
    line.remove_prefix(5);
    const auto from = chat::take_number(line);
    const auto seq = chat::take_number(line);
    const auto sent = chat::take_number(line);
    if (!from || !seq || !sent) {
      res().problems.push_back("malformed: " + std::string(line));
      return true;
    }
    std::uint64_t& next = res().heard[*from];
    if (*seq != next)
      res().problems.push_back("from " + std::to_string(*from) + ": expected message " +
                               std::to_string(next) + ", got " + std::to_string(*seq));
    next = *seq + 1;
    const std::int64_t latency = now_ns() - static_cast<std::int64_t>(*sent);
    if (*from == res().id) {
      rep_->own_latency_ns.push_back(latency);
      ++res().acked;
      maybe_kill();
      send_more();
    } else if (*from % opt_->servers.size() != res().id % opt_->servers.size()) {
      rep_->cross_latency_ns.push_back(latency);  // said on another server process
    }
    return true;
  }

  // The kill happens the moment the share of answers is reached, here, not on a timer.
  void maybe_kill() {
    ++rep_->acked;
    const double total = static_cast<double>(opt_->clients) * opt_->messages;
    if (rep_->killed || !opt_->kill || opt_->kill_at <= 0 ||
        static_cast<double>(rep_->acked) < opt_->kill_at * total)
      return;
    rep_->killed = true;
    rep_->kill_seconds = static_cast<double>(now_ns()) / 1e9;
    opt_->kill();
  }

  void send_more() {
    while (sent_ < opt_->messages && sent_ - res().acked < opt_->window) {
      stream_.write("SAY " + std::to_string(sent_) + ' ' + std::to_string(now_ns()) + '\n');
      ++sent_;
    }
  }

  std::int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start_).count();
  }

  const load_options* opt_;
  load_report* rep_;
  std::size_t index_;
  instant start_;
  loop::tcp_stream stream_;
  int sent_ = 0;
  bool closing_ = false;
};

// Runs the clients on this thread until every client still connected has said all its
// messages and heard all of every other's (or `timeout` passes), then half-closes them.
inline load_report run_load(const load_options& opt, duration timeout) {
  load_report rep;
  rep.clients.resize(static_cast<std::size_t>(opt.clients));
  runtime rt;
  loop::epoll_loop lp(rt);
  const instant start = clock::now();
  std::vector<actor_own<client>> clients;
  int alive = opt.clients;
  for (int i = 0; i < opt.clients; ++i)
    clients.push_back(make_actor<&client::init>(rt,
                                                ret_do<stop_cause>([&](std::optional<stop_cause>) {
                                                  if (--alive == 0)
                                                    rt.shutdown(stop_cause::stopped());
                                                }),
                                                &opt, &rep, static_cast<std::size_t>(i), start));

  bool finishing = false;
  std::function<void(core&)> watch = [&](core& c) {
    // Done when every connected client has its own answers and every other connected
    // client's messages.
    bool done = true;
    for (const client_result& r : rep.clients) {
      if (r.cut_off) continue;
      if (r.acked < opt.messages) done = false;
      for (const client_result& s : rep.clients)
        if (!s.cut_off && s.id != r.id &&
            (r.heard.count(s.id) == 0 ||
             r.heard.at(s.id) < static_cast<std::uint64_t>(opt.messages)))
          done = false;
    }
    if ((done || clock::now() - start > timeout) && !finishing) {
      finishing = true;
      for (auto& cl : clients)
        if (cl) call<&client::finish>(cl);
    }
    c.after(std::chrono::milliseconds(10), watch);
  };
  rt.after(std::chrono::milliseconds(10), watch);
  lp.run();
  rep.seconds = std::chrono::duration<double>(clock::now() - start).count();
  clients.clear();
  return rep;
}

}  // namespace cluster
