// SPDX-License-Identifier: MIT OR Apache-2.0
// Coroutine forms of the NATS bridge: a request awaited from a task, a subscription read
// as a stream.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "stakker/coro/async_generator.hpp"
#include "stakker/coro/fwd_stream.hpp"
#include "stakker/coro/ret_pipe.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/nats/connection.hpp"

namespace stakker::nats {

// `message m = co_await request(conn, subject, data, timeout)`: the reply; a request that
// fails (timeout, no responders, a closed connection, a service's error reply) throws its
// nats::error into the awaiting task. The connection must outlive the await (a connection
// destroyed first answers NATS_CONNECTION_CLOSED, which is thrown).
inline coro::task<message> request(connection& conn, std::string subject, std::string data,
                                   duration timeout, headers hdrs = {}) {
  auto [aw, r] = coro::ret_pipe<coro::result<message>>(conn.runtime_core());
  conn.request(subject, data, timeout, std::move(r), hdrs);
  coro::result<message> res = co_await std::move(aw);
  if (!res.has_value()) std::rethrow_exception(res.error().exception);
  co_return std::move(*res);
}

// Result mode: `coro::result<message> r = co_await request_result(...)`: the reply, or an
// actor_fail holding the nats::error; nothing is thrown for a failed request.
inline coro::task<coro::result<message>> request_result(connection& conn, std::string subject,
                                                        std::string data, duration timeout,
                                                        headers hdrs = {}) {
  auto [aw, r] = coro::ret_pipe<coro::result<message>>(conn.runtime_core());
  conn.request(subject, data, timeout, std::move(r), hdrs);
  co_return co_await std::move(aw);
}

// A subscription read as a stream: `while (auto m = co_await s.next())` gives the messages
// in order. Holds the subscription: destroying the stream unsubscribes. A stream whose
// connection closes stays open (no more messages come); drop it to end.
class message_stream {
 public:
  message_stream(coro::stream_reader<message> reader, subscription sub) noexcept
      : reader_(std::move(reader)), sub_(std::move(sub)) {}
  // The next message (drop mode; see coro::fwd_stream).
  auto next() { return reader_.next(); }
  subscription& handle() noexcept { return sub_; }

 private:
  coro::stream_reader<message> reader_;
  subscription sub_;
};

// Subscribes to `subject` (in `queue` group, if not empty) and reads it as a stream;
// messages wait in the stream until the task takes them.
inline message_stream subscribe_stream(connection& conn, std::string_view subject,
                                       std::string_view queue = {}) {
  auto [reader, f] = coro::fwd_stream<message>(conn.runtime_core());
  subscription sub = conn.subscribe(
      subject, fwd_do<message>([f = std::move(f)](message m) { f(std::move(m)); }), queue);
  return message_stream(std::move(reader), std::move(sub));
}

// The same as an async_generator<message>, for code written against generators (or
// spawn_stream into a fwd): the subscription lives in the generator's frame, made when the
// generator is first resumed and dropped with it.
inline coro::async_generator<message> subscribe_generator(connection& conn, std::string subject,
                                                          std::string queue = {}) {
  message_stream s = subscribe_stream(conn, subject, queue);
  while (std::optional<message> m = co_await s.next()) co_yield std::move(*m);
}

}  // namespace stakker::nats
