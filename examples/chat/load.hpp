// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat demo's load generator: client actors on a runtime and epoll_loop of their own,
// meant to run on a second thread. Each client says `messages` lines with at most
// `window` of its own still unanswered, and times each from sending it to reading it back
// from the room's broadcast.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/tcp_stream.hpp"
#include "stakker/stakker.hpp"

namespace chat {

using namespace stakker;

struct load_options {
  loop::socket_address server;
  int clients = 100;
  int messages = 1000;  // per client
  int window = 4;       // own messages in flight per client
};

struct load_report {
  double seconds = 0;                    // from the first connect to the last close
  std::vector<std::int64_t> latency_ns;  // one per message, send to own echo
  std::uint64_t lines_received = 0;      // every FROM line, all clients (the room's fan-out)
  std::vector<std::string> failures;     // one per client that did not finish cleanly
};

class load_client {
 public:
  static load_client init(cx<load_client>& x, const load_options* opt, load_report* report,
                          stakker::instant start) {
    load_client c(opt, report, start);
    loop::epoll_loop& lp = *x.core().anymap_get<loop::epoll_loop*>();
    c.stream_ = loop::tcp_stream::connect(
        lp, opt->server, fwd_to<std::uint32_t, &load_client::ready>(x.this_actor()));
    c.stream_.set_nodelay(true);
    return c;
  }

  void ready(cx<load_client>& x, std::uint32_t events) {
    const loop::read_result r = stream_.read(events);
    const std::string_view input = stream_.input();
    std::string problem;
    const std::size_t used =
        for_each_line(input, [&](std::string_view line) { return handle(line, problem); });
    stream_.consume(used);
    if (!problem.empty()) return x.fail(problem);
    if (r.error) return x.fail("connection: " + r.error.message());
    if (r.eof) {
      if (acked_ != opt_->messages)
        return x.fail("server closed after " + std::to_string(acked_) + " answers");
      return x.stop();
    }
    if (stream_.flush()) return x.fail("send: " + stream_.error().message());
  }

 private:
  load_client(const load_options* opt, load_report* report, stakker::instant start)
      : opt_(opt), report_(report), start_(start) {}

  bool handle(std::string_view line, std::string& problem) {
    if (line.starts_with("FROM ")) {
      ++report_->lines_received;
      line.remove_prefix(5);
      const auto from = take_number(line);
      if (!from || *from != id_) return true;  // someone else's message
      const auto seq = take_number(line);
      const auto sent = take_number(line);
      if (!seq || !sent || *seq != static_cast<std::uint64_t>(acked_)) {
        problem = "own message out of order: " + std::string(line);
        return false;
      }
      report_->latency_ns.push_back(now_ns() - static_cast<std::int64_t>(*sent));
      ++acked_;
      send_more();
      return true;
    }
    if (line.starts_with("HELLO ")) {
      line.remove_prefix(6);
      if (auto id = take_number(line)) id_ = *id;
      send_more();
      return true;
    }
    problem = "unexpected line: " + std::string(line);
    return false;
  }

  // Keeps `window` messages in flight; half-closes once every answer is in.
  void send_more() {
    while (sent_ < opt_->messages && sent_ - acked_ < opt_->window) {
      stream_.write("SAY " + std::to_string(sent_) + ' ' + std::to_string(now_ns()) + '\n');
      ++sent_;
    }
    if (acked_ == opt_->messages) stream_.close_write();
  }

  std::int64_t now_ns() const {
    // Real time, not the runtime's cached `now`: latency needs the moment of sending.
    return std::chrono::duration_cast<std::chrono::nanoseconds>(stakker::clock::now() - start_)
        .count();
  }

  const load_options* opt_;
  load_report* report_;
  stakker::instant start_;
  loop::tcp_stream stream_;
  std::uint64_t id_ = 0;
  int sent_ = 0;
  int acked_ = 0;
};

// Connects every client and runs until all have finished or `cancelled()` says so (it is
// polled every 100 ms). Runs on the calling thread.
inline load_report run_load(const load_options& opt, const std::function<bool()>& cancelled) {
  load_report report;
  report.latency_ns.reserve(static_cast<std::size_t>(opt.clients) *
                            static_cast<std::size_t>(opt.messages));
  runtime rt;
  loop::epoll_loop lp(rt);
  const stakker::instant start = stakker::clock::now();
  int running = opt.clients;
  std::vector<actor_own<load_client>> clients;
  for (int i = 0; i < opt.clients; ++i) {
    clients.push_back(make_actor<&load_client::init>(
        rt, ret_do<stop_cause>([&, i](std::optional<stop_cause> cause) {
          if (!cause || cause->has_error())
            report.failures.push_back("client " + std::to_string(i) + ": " +
                                      (cause ? cause->text() : "no cause"));
          if (--running == 0) rt.shutdown(stop_cause::stopped());
        }),
        &opt, &report, start));
  }
  std::function<void(core&)> watch = [&](core& c) {
    if (cancelled()) return c.shutdown(stop_cause::killed("load generator cancelled"));
    c.after(std::chrono::milliseconds(100), watch);
  };
  rt.after(std::chrono::milliseconds(100), watch);
  lp.run();
  clients.clear();  // before `report` leaves: their notify callbacks write to it
  report.seconds = std::chrono::duration<double>(stakker::clock::now() - start).count();
  return report;
}

}  // namespace chat
