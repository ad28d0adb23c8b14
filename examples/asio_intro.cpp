// SPDX-License-Identifier: MIT OR Apache-2.0
// The Asio bridge in one program (docs/asio.md walks through it): an io_context drives the
// runtime; an actor waits on an Asio timer; a task talks over a socket pair; Asio's own
// coroutines and the runtime's tasks await each other.
#include <cstdio>
#include <optional>
#include <string>

#include "stakker/asio/asio.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/stakker.hpp"

using namespace stakker;
using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::asio::error_code;

namespace {

// An actor owning an Asio timer. The completion arrives as a queued call of `rang`; if the
// actor stopped first, the wait would be cancelled and `rang` never called.
class alarm {
 public:
  explicit alarm(net::io_context& ioc) : timer_(ioc) {}
  static alarm init(cx<alarm>& cx, net::io_context* ioc) {
    cx.call<&alarm::start>();  // once the actor (and its timer) have their final address
    return alarm(*ioc);
  }
  void start(cx<alarm>& cx) {
    timer_.expires_after(10ms);
    timer_.async_wait(stakker::asio::use_ret(cx, ret_to<error_code, &alarm::rang>(cx)));
  }
  void rang(cx<alarm>& cx, std::optional<error_code> ec) {
    std::printf("alarm: %s\n", !ec ? "dropped" : *ec ? ec->message().c_str() : "rang");
    cx.stop();
  }

 private:
  net::steady_timer timer_;
};

// A task on each end of a socket pair: awaits Asio operations with use_task.
coro::task<std::string> ask(net::local::stream_protocol::socket& s, std::string question) {
  co_await net::async_write(s, net::buffer(question + "\n"), stakker::asio::use_task);
  std::string answer;
  co_await net::async_read_until(s, net::dynamic_buffer(answer), '\n', stakker::asio::use_task);
  answer.pop_back();
  co_return answer;
}

coro::task<void> answer_one(net::local::stream_protocol::socket& s) {
  std::string line;
  co_await net::async_read_until(s, net::dynamic_buffer(line), '\n', stakker::asio::use_task);
  for (char& ch : line) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  co_await net::async_write(s, net::buffer(line), stakker::asio::use_task);
}

// An Asio coroutine (net::awaitable), run on the runtime's executor with co_spawn.
net::awaitable<int> asio_side(int x) {
  net::steady_timer t(co_await net::this_coro::executor, 1ms);
  co_await t.async_wait(net::use_awaitable);
  co_return x * 2;
}

// A runtime task that an Asio coroutine awaits through async_spawn.
coro::task<int> task_side(int x) { co_return x + 1; }

net::awaitable<int> asio_awaiting_a_task(stakker::asio::runtime_executor ex, int x) {
  co_return co_await stakker::asio::async_spawn(ex, task_side(x), net::use_awaitable);
}

// The walk-through, one step after the other.
coro::task<void> demo(runtime& rt, net::io_context& ioc) {
  auto ex = stakker::asio::executor_of(rt);  // an Asio executor onto the runtime's queue

  net::local::stream_protocol::socket left(ioc), right(ioc);
  net::local::connect_pair(left, right);
  coro::spawn(rt, answer_one(right), ret_nop<void>());
  std::printf("echo: %s\n", (co_await ask(left, "hello")).c_str());

  int doubled = co_await net::co_spawn(ex, asio_side(21), stakker::asio::use_task);
  std::printf("asio coroutine: %d\n", doubled);

  int plus_one =
      co_await net::co_spawn(ex, asio_awaiting_a_task(ex, doubled), stakker::asio::use_task);
  std::printf("task from asio: %d\n", plus_one);

  // The alarm actor stops itself once it rang; its stop shuts the runtime down. This task
  // owns it meanwhile (dropping the owner would stop it, cancelling the wait).
  auto owner = make_actor<&alarm::init>(rt, ret_shutdown(rt), &ioc);
  co_await coro::sleep_for(rt, 10s);
}

}  // namespace

int main() {
  net::io_context ioc;
  runtime rt;
  stakker::asio::io_loop loop(ioc, rt);  // ioc is the outer loop; it runs the runtime
  coro::spawn(rt, demo(rt, ioc), ret_nop<void>());
  stop_cause cause = loop.run();  // until the runtime is asked to shut down
  std::printf("shutdown: %s\n", cause.text().c_str());
}
