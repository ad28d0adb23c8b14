// SPDX-License-Identifier: MIT OR Apache-2.0
// nats::options: how to reach the servers; nats::event: what happens to the connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "stakker/nats/export.hpp"

namespace stakker::nats {

// What the C client offers, passed through (natsOptions_*). Empty strings leave the
// client's default.
struct options {
  // Server URLs ("nats://host:port", "tls://host:port"); tried in order, then as the
  // reconnect policy says.
  std::vector<std::string> servers{"nats://127.0.0.1:4222"};
  std::string name;  // shown by the server (monitoring, logs)
  // Authentication: at most one of token, user/password, credentials file (a JWT and
  // NKey seed, as `nsc` writes them).
  std::string token;
  std::string user;
  std::string password;
  std::string credentials_file;
  // TLS: `secure` asks for it (a "tls://" URL does too); the CA file to verify the server
  // with, and a certificate and key for client authentication.
  bool secure = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string expected_hostname;
  bool skip_server_verification = false;
  // Connecting: how long one attempt may take (TCP connect and handshake).
  std::chrono::milliseconds timeout{2000};
  // Reconnecting after a connection is lost: whether at all, how many attempts per
  // server (-1: forever), the wait between rounds, and the bytes published meanwhile
  // that are kept to send once reconnected (publishing more fails).
  bool allow_reconnect = true;
  int max_reconnect = 60;
  std::chrono::milliseconds reconnect_wait{2000};
  std::size_t reconnect_buffer_bytes = 8 * 1024 * 1024;
  // Pings: the interval, and how many may go unanswered before the connection counts as
  // lost.
  std::chrono::milliseconds ping_interval{120000};
  int max_pings_out = 2;
  // Messages this connection publishes are not delivered to its own subscriptions.
  bool no_echo = false;
  // Messages (and bytes) a subscription may hold between the client's reading thread and
  // the runtime before it drops them (a slow_consumer event tells).
  int pending_messages_limit = 65536;
  int pending_bytes_limit = 64 * 1024 * 1024;
  // Priority of the connection's socket among the loop's sources (0–10).
  int priority = 0;
};

// A change of the connection's state, or an asynchronous error, delivered (in order) to
// the fwd<event> given to connect().
struct event {
  enum class kind {
    connected,      // the first connect succeeded
    disconnected,   // the connection was lost; the client tries to reconnect
    reconnected,    // connected again: subscriptions are back, buffered publishes sent
    closed,         // for good (closed, drained, or reconnecting gave up); the last event
    error,          // an asynchronous error from the server or client (text says which)
    slow_consumer,  // a subscription dropped messages (its pending limit was reached)
    lame_duck,      // the server is shutting down soon; the client will move on
  };
  kind what;
  std::string text;  // the client's last error, or the URL (connected, reconnected)
};

// "connected", "disconnected", ...
STAKKER_NATS_EXPORT const char* to_string(event::kind k) noexcept;

}  // namespace stakker::nats
