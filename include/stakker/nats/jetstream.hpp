// SPDX-License-Identifier: MIT OR Apache-2.0
// JetStream through the bridge: streams and durable consumers made through JetStream's API
// subjects, publishes acknowledged into a ret, and a pull consumer read as a stream whose
// `more` fetches the next batch (contract N4). Built on the connection's requests and
// subscriptions, so nothing here waits on the runtime's thread (the C client's own
// JetStream calls would).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stakker/coro/fwd_stream.hpp"
#include "stakker/coro/result.hpp"
#include "stakker/nats/connection.hpp"
#include "stakker/nats/export.hpp"

namespace stakker::nats::js {

using namespace std::chrono_literals;

struct stream_config {
  std::string name;
  std::vector<std::string> subjects;  // the subjects it stores (wildcards allowed)
  bool memory_storage = false;        // file storage unless set
  std::int64_t max_msgs = -1;         // -1: no limit
  std::int64_t max_bytes = -1;
};

// A durable pull consumer with explicit acknowledgement: a message not acknowledged within
// `ack_wait` is delivered again (at-least-once).
struct consumer_config {
  std::string durable;
  std::string filter_subject;  // empty: every subject of the stream
  duration ack_wait = std::chrono::seconds(30);
  int max_deliver = -1;  // -1: no limit
};

// What the server answers a publish it stored.
struct pub_ack {
  std::string stream;
  std::uint64_t seq = 0;
  bool duplicate = false;  // a Nats-Msg-Id seen within the stream's duplicate window
};

// Each answers its ret once: a value, or an actor_fail holding nats::error (the server's
// description and code for an API error, NATS_TIMEOUT, NATS_NO_RESPONDERS when JetStream is
// not enabled, NATS_CONNECTION_CLOSED).
STAKKER_NATS_EXPORT void add_stream(connection& conn, const stream_config& cfg,
                                    ret<coro::result<void>> done, duration timeout = 5s);
STAKKER_NATS_EXPORT void delete_stream(connection& conn, std::string_view name,
                                       ret<coro::result<void>> done, duration timeout = 5s);
STAKKER_NATS_EXPORT void add_consumer(connection& conn, std::string_view stream,
                                      const consumer_config& cfg, ret<coro::result<void>> done,
                                      duration timeout = 5s);

// Publishes to a stream's subject and answers with the server's acknowledgement: stored
// (with its sequence), or an actor_fail (no stream takes the subject: NATS_NO_RESPONDERS;
// the stream refused it; timeout). Headers pass through (Nats-Msg-Id for de-duplication).
STAKKER_NATS_EXPORT void publish(connection& conn, std::string_view subject, std::string_view data,
                                 ret<coro::result<pub_ack>> ack, const headers& hdrs = {},
                                 duration timeout = 5s);

// A message from a consumer. Acknowledge it once handled: until then (and if it is never
// acknowledged) the server delivers it again after the consumer's ack_wait. Move-only;
// runtime thread only.
class STAKKER_NATS_EXPORT js_message {
 public:
  js_message(message m, std::weak_ptr<connection> conn);
  const message& msg() const noexcept { return m_; }
  std::string_view subject() const noexcept { return m_.subject(); }
  std::string_view data() const noexcept { return m_.data(); }
  std::uint64_t stream_sequence() const noexcept { return stream_seq_; }
  std::uint64_t consumer_sequence() const noexcept { return consumer_seq_; }
  // How many times it was delivered (1 the first time).
  std::uint64_t delivered() const noexcept { return delivered_; }

  // Handled: not delivered again. Nothing if already answered or the connection is gone.
  void ack();
  // Deliver it again (now).
  void nak();
  // Never deliver it again, handled or not.
  void term();
  // Still working on it: restarts its ack_wait.
  void in_progress();

 private:
  void reply(std::string_view what, bool final);
  message m_;
  std::weak_ptr<connection> conn_;
  std::uint64_t stream_seq_ = 0;
  std::uint64_t consumer_seq_ = 0;
  std::uint64_t delivered_ = 0;
  bool answered_ = false;
};

struct pull_state;

// A durable pull consumer read as a stream: `while (auto m = co_await s.next())`. Each time
// the task finds the stream empty, `more` fetches the next batch (up to `batch` messages,
// the server waiting up to `expires` for them; a fetch that ends empty is sent again, so a
// task waits for the next message however long it takes). Holds its subscription:
// destroying the stream stops fetching (messages fetched and not yet taken are not
// acknowledged, so they come again after ack_wait). Runtime thread only.
class STAKKER_NATS_EXPORT pull_stream {
 public:
  pull_stream(coro::stream_reader<js_message> reader, std::shared_ptr<pull_state> state) noexcept
      : reader_(std::move(reader)), state_(std::move(state)) {}
  auto next() { return reader_.next(); }
  // Fetches sent so far (for tests and statistics).
  std::uint64_t fetches() const noexcept;

 private:
  coro::stream_reader<js_message> reader_;
  std::shared_ptr<pull_state> state_;
};

// Reads durable consumer `durable` of `stream` (made with add_consumer). Throws nats::error
// if the connection cannot subscribe (not connected, closed).
STAKKER_NATS_EXPORT pull_stream pull(connection& conn, std::string_view stream,
                                     std::string_view durable, int batch = 256,
                                     duration expires = std::chrono::seconds(1));

}  // namespace stakker::nats::js
