// SPDX-License-Identifier: MIT OR Apache-2.0
#include "load.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

#include "stakker/coro/spawn.hpp"
#include "teardown.hpp"

namespace kv {

using stakker::asio::use_task;

namespace {

std::string key_of(int client, int k) {
  return 'c' + std::to_string(client) + '-' + std::to_string(k);
}

// What to say about an unexpected reply.
std::string unexpected(const std::string& request, const reply& r) {
  switch (r.what) {
    case answer::ok:
      return request + ": unexpected OK";
    case answer::value:
      return request + ": unexpected VALUE " + std::to_string(r.length);
    case answer::none:
      return request + ": unexpected NONE";
    case answer::deleted:
      return request + ": unexpected DELETED";
    case answer::bye:
      return request + ": unexpected BYE";
    case answer::error:
      return request + ": ERROR " + std::string(r.text);
    case answer::bad:
      break;
  }
  return request + ": malformed reply '" + std::string(r.text) + "'";
}

}  // namespace

void fill_value(std::string& out, std::size_t size, int client, int round) {
  out.resize(size);
  // splitmix64, seeded by client and round.
  std::uint64_t state =
      (std::uint64_t{static_cast<std::uint32_t>(client)} << 32) | static_cast<std::uint32_t>(round);
  for (std::size_t i = 0; i < size; i += 8) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    z ^= z >> 31;
    std::memcpy(out.data() + i, &z, std::min<std::size_t>(8, size - i));
  }
}

load_client load_client::init(stakker::cx<load_client>& x, const load_options* opt,
                              load_report* report, int index) {
  x.call<&load_client::start>();  // runs once the state is installed
  return load_client(net::ip::tcp::socket(stakker::asio::executor_of(x)), opt, report, index);
}

void load_client::start(stakker::cx<load_client>& x) {
  stakker::coro::spawn(x, run(), stakker::ret_to<std::string, &load_client::ended>(x));
}

void load_client::ended(stakker::cx<load_client>& x, std::optional<std::string> problem) {
  if (!problem) return x.fail("its task was dropped");
  if (!problem->empty()) return x.fail(*problem);
  x.stop();
}

void load_client::record_latency(stakker::instant sent) {
  // Real time, not the runtime's cached `now`: the reply has just been read.
  report_->latency_ns.push_back(
      std::chrono::duration_cast<std::chrono::nanoseconds>(stakker::clock::now() - sent).count());
  ++report_->requests;
}

stakker::coro::task<reply> load_client::ask(std::string request, const std::string* value) {
  if (value != nullptr) {
    const std::array<net::const_buffer, 2> out{net::buffer(request), net::buffer(*value)};
    co_await net::async_write(socket_, out, use_task);
  } else {
    co_await net::async_write(socket_, net::buffer(request), use_task);
  }
  co_return parse_reply(co_await in_.line(socket_));
}

stakker::coro::task<std::string> load_client::run() {
  std::string problem;
  bool bye = false;  // BYE came: only then may the stream end
  try {
    co_await socket_.async_connect(opt_->server, use_task);
    socket_.set_option(net::ip::tcp::no_delay(true));
    std::string value;
    const int keys = std::max(1, std::min(opt_->keys, opt_->rounds));
    for (int i = 0; i < opt_->rounds && problem.empty(); ++i) {
      const std::string key = key_of(index_, i % keys);
      fill_value(value, opt_->value_size, index_, i);
      stakker::instant sent = stakker::clock::now();
      reply r = co_await ask(set_line(key, value.size()), &value);
      if (r.what != answer::ok) {
        problem = unexpected("SET " + key, r);
        break;
      }
      record_latency(sent);
      sent = stakker::clock::now();
      r = co_await ask(get_line(key), nullptr);
      if (r.what != answer::value || r.length != value.size()) {
        problem = unexpected("GET " + key, r);
        break;
      }
      const std::shared_ptr<std::string> got = co_await in_.value(socket_, r.length);
      record_latency(sent);
      if (*got != value) {
        problem = "GET " + key + " in round " + std::to_string(i) + ": not the bytes SET";
      } else {
        ++report_->values_checked;
      }
    }
    for (int k = 0; k < keys && problem.empty(); ++k) {
      const std::string key = key_of(index_, k);
      const stakker::instant sent = stakker::clock::now();
      const reply r = co_await ask(del_line(key), nullptr);
      if (r.what != answer::deleted) problem = unexpected("DEL " + key, r);
      record_latency(sent);
    }
    if (problem.empty()) {
      const stakker::instant sent = stakker::clock::now();
      const reply r = co_await ask("QUIT\n", nullptr);
      if (r.what != answer::bye) problem = unexpected("QUIT", r);
      record_latency(sent);
      bye = problem.empty();
    }
    if (bye) {
      // After BYE the server closes: the next read must find the end of the stream.
      co_await in_.line(socket_);
      problem = "a line after BYE";
    }
  } catch (const stakker::asio::system_error& e) {
    const bool clean_end = bye && e.code() == net::error::eof && in_.buffered() == 0;
    if (problem.empty() && !clean_end) problem = "connection: " + e.code().message();
  }
  co_return problem;
}

load_report run_load(const load_options& opt, const std::function<bool()>& cancelled) {
  load_report report;
  const auto clients = static_cast<std::size_t>(opt.clients);
  report.latency_ns.reserve(clients * static_cast<std::size_t>(2 * opt.rounds + opt.keys + 1));
  net::io_context ioc;
  stakker::runtime rt;
  stakker::asio::io_loop loop(ioc, rt);
  const stakker::instant start = stakker::clock::now();
  int running = opt.clients;
  std::vector<stakker::actor_own<load_client>> actors;
  actors.reserve(clients);
  for (int i = 0; i < opt.clients; ++i) {
    auto notify =
        stakker::ret_do<stakker::stop_cause>([&, i](std::optional<stakker::stop_cause> cause) {
          if (!cause || cause->has_error())
            report.failures.push_back("client " + std::to_string(i) + ": " +
                                      (cause ? cause->text() : "no cause"));
          if (--running == 0) rt.shutdown(stakker::stop_cause::stopped());
        });
    actors.push_back(
        stakker::make_actor<&load_client::init>(rt, std::move(notify), &opt, &report, i));
  }
  std::function<void(stakker::core&)> watch = [&](stakker::core& c) {
    if (cancelled()) return c.shutdown(stakker::stop_cause::killed("load generator cancelled"));
    c.after(std::chrono::milliseconds(100), watch);
  };
  rt.after(std::chrono::milliseconds(100), watch);
  loop.run();
  report.seconds = std::chrono::duration<double>(stakker::clock::now() - start).count();
  actors.clear();  // clients still running (cancelled) stop: their notify writes to `report`
  drain(loop);
  return report;
}

}  // namespace kv
