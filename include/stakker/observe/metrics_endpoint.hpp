// SPDX-License-Identifier: MIT OR Apache-2.0
// metrics_endpoint: a small HTTP/1.1 server on the epoll_loop that Prometheus scrapes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "stakker/core.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/socket_address.hpp"
#include "stakker/observe/export.hpp"
#include "stakker/time.hpp"

namespace stakker::observe {

struct metrics_endpoint_options {
  // A numeric IPv4 or IPv6 address. Loopback by default: serving other hosts (say
  // "0.0.0.0") is a choice to make explicitly, since the endpoint has no authentication.
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;         // 0: a free port, see metrics_endpoint::port()
  std::string path = "/metrics";  // served for GET and HEAD; a query string is ignored
  // A request head (request line and header fields) larger than this is refused with 431.
  std::size_t max_request_head = 8 * 1024;
  // Connections beyond this many at once are accepted, answered 503 and closed.
  std::size_t max_connections = 64;
  // A connection is closed when nothing was received or sent for idle_timeout, or when
  // an incomplete request head waited request_timeout (a slow client); zero turns one off.
  duration idle_timeout = std::chrono::seconds(10);
  duration request_timeout = std::chrono::seconds(10);
  int priority = 1;  // of the sockets' readiness (epoll_loop levels 0..10)
};

// Serves `body()` over HTTP/1.1 at options.path, as Prometheus' text format 0.0.4
// (Content-Type `text/plain; version=0.0.4; charset=utf-8`), on the given loop: accepting,
// reading, parsing and answering all run on the runtime's thread, in the loop's readiness
// callbacks, and so does every call of `body` (one per GET or HEAD request it answers).
//
// Behaviour, for any bytes a client sends (nothing throws out of the loop for them):
// - GET or HEAD of the path: 200 with Content-Length (HEAD: the headers only); keep-alive
//   is the default for HTTP/1.1 (HTTP/1.0: with `Connection: keep-alive`), and
//   `Connection: close` is honoured; pipelined requests are answered in order, one at a
//   time (the next is read once the response before it is sent).
// - another path: 404; another method: 405 with `Allow: GET, HEAD`.
// - a request head over max_request_head: 431; a malformed one (request line, version,
//   header fields, no Host in HTTP/1.1, a body on GET or HEAD, ...): 400. Both close the
//   connection after the response. Every error response has a one-line text/plain body
//   saying what was wrong.
// - `body` throwing: 500 (the exception's text is not sent), then close.
// - over max_connections: 503, sent as the connection is accepted, then close.
// - timeouts (idle_timeout, request_timeout) close the connection without a response.
//
// Destroying the endpoint closes the listener and every connection at once. `body` must
// not destroy the endpoint. Move-only; the runtime's thread only. The loop must outlive it.
class STAKKER_OBSERVE_EXPORT metrics_endpoint {
 public:
  // Binds and listens. Throws std::invalid_argument for an address that is not numeric,
  // std::system_error if the port cannot be bound.
  metrics_endpoint(loop::epoll_loop& loop, std::function<std::string()> body,
                   const metrics_endpoint_options& options = {});
  // Serves prometheus_text of `c.metrics()` (read on the runtime's thread at each scrape),
  // and enables the counters that need it (c.metrics_enable()). `c` is the core the loop
  // drives (loop.rt()) or another on the same thread; it must outlive the endpoint.
  metrics_endpoint(loop::epoll_loop& loop, core& c, const metrics_endpoint_options& options = {});
  metrics_endpoint(metrics_endpoint&&) noexcept;
  metrics_endpoint& operator=(metrics_endpoint&&) noexcept;
  ~metrics_endpoint();

  // The bound port (the one picked when options.port was 0); 0 once closed.
  std::uint16_t port() const noexcept;
  loop::socket_address local_address() const;
  // Connections open now (being served, or closing).
  std::size_t connections() const noexcept;
  // Closes the listener and every connection now.
  void close() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace stakker::observe
