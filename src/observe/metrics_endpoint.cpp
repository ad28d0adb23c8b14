// SPDX-License-Identifier: MIT OR Apache-2.0
// Everything here runs on the runtime's thread: the listener's and the connections'
// readiness callbacks, called by the epoll_loop inside its turn.
#include "stakker/observe/metrics_endpoint.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <exception>
#include <iterator>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "http_request.hpp"
#include "stakker/fwd.hpp"
#include "stakker/loop/tcp_listener.hpp"
#include "stakker/loop/tcp_stream.hpp"
#include "stakker/observe/prometheus.hpp"

namespace stakker::observe {

namespace {

using detail::head_status;
using detail::request_head;

// The response to a connection over max_connections, sent as it is accepted.
constexpr std::string_view busy_response =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 21\r\n"
    "Connection: close\r\n"
    "\r\n"
    "too many connections\n";

// Best effort, on a fresh socket (its send buffer empty, so the response fits): sends the
// 503, ends the sending side, and reads what already arrived, so that closing does not
// reset the connection (which could discard the response at the client).
void refuse_busy(loop::unique_fd socket) noexcept {
  (void)::send(socket.get(), busy_response.data(), busy_response.size(),
               MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(socket.get(), SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(socket.get(), sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
}

// Whether `target` (origin form "/p?q", or absolute form "http://host/p?q") names `path`.
bool names_path(std::string_view target, std::string_view path) noexcept {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.starts_with(scheme)) {
      const std::size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  return target.substr(0, target.find('?')) == path;
}

}  // namespace

struct metrics_endpoint::impl {
  struct connection {
    loop::tcp_stream stream;
    bool closing = false;  // the last response is written: discard input until the end
  };

  impl(loop::epoll_loop& l, std::function<std::string()> b, const metrics_endpoint_options& o)
      : loop_(l), body_(std::move(b)), options_(o) {
    loop::listener_options lo;
    lo.priority = o.priority;
    listener_ = loop::tcp_listener::bind(
        l, loop::socket_address::parse(o.address, o.port),
        fwd_do<std::uint32_t>([this](std::uint32_t) { accept_all(); }), lo);
    stream_options_.priority = o.priority;
    stream_options_.max_input = std::max<std::size_t>(o.max_request_head, 1);
    stream_options_.idle_timeout = o.idle_timeout;
    stream_options_.read_timeout = o.request_timeout;
    stream_options_.closing_timeout = o.idle_timeout;
  }

  // The listener's readiness: takes every waiting connection. An accept error (out of
  // descriptors) leaves the rest queued; the listener retries by itself.
  void accept_all() {
    for (;;) {
      loop::accepted a = listener_.accept();
      if (!a.socket) return;
      if (connections_.size() >= options_.max_connections) {
        refuse_busy(std::move(a.socket));
        continue;
      }
      const std::uint64_t id = next_id_++;
      auto c = std::make_unique<connection>();
      c->stream = loop::tcp_stream(
          loop_, std::move(a),
          fwd_do<std::uint32_t>([this, id](std::uint32_t events) { ready(id, events); }),
          stream_options_);
      connections_.emplace(id, std::move(c));
    }
  }

  // A connection's readiness: reads, answers what requests are complete, sends.
  void ready(std::uint64_t id, std::uint32_t events) {
    const auto it = connections_.find(id);
    if (it == connections_.end()) return;
    connection& c = *it->second;
    const loop::read_result r = c.stream.read(events);
    if (r.error) {  // reset, or a timeout
      connections_.erase(it);
      return;
    }
    if (!c.closing) serve(c);
    if (c.closing) c.stream.consume(c.stream.input().size());
    if (c.stream.flush()) {
      connections_.erase(it);
      return;
    }
    // The peer is done sending: what it sent is answered (an incomplete request is not);
    // the connection goes once the answers are sent, or once the peer read our end.
    if (r.eof && c.stream.pending_output() == 0) connections_.erase(it);
  }

  // Answers complete requests in order while the previous response is sent, so a client
  // that pipelines without reading holds at most max_request_head of input and one
  // response of output.
  void serve(connection& c) {
    while (!c.closing && c.stream.pending_output() == 0 && !c.stream.input().empty()) {
      const request_head h =
          detail::parse_request_head(c.stream.input(), options_.max_request_head);
      if (h.status == head_status::incomplete) return;
      if (h.status == head_status::too_large) {
        respond(
            c, "431 Request Header Fields Too Large", h, "",
            fmt::format("the request head is larger than {} bytes\n", options_.max_request_head),
            true);
      } else if (h.status == head_status::bad) {
        respond(c, "400 Bad Request", h, "", fmt::format("bad request: {}\n", h.error), true);
      } else {
        answer(c, h);
        c.stream.consume(h.head_size);
      }
      if (c.stream.flush()) return;  // ready() sees the error again
    }
  }

  void answer(connection& c, const request_head& h) {
    const bool head = h.method == "HEAD";
    if (!head && h.method != "GET") {
      // The body of such a request is not read: the connection closes after the answer.
      respond(c, "405 Method Not Allowed", h, "Allow: GET, HEAD\r\n",
              "method not allowed: only GET and HEAD are served\n", h.has_body);
      return;
    }
    if (h.has_body) {
      respond(c, "400 Bad Request", h, "", "bad request: a GET or HEAD request with a body\n",
              true);
      return;
    }
    if (!names_path(h.target, options_.path)) {
      respond(c, "404 Not Found", h, "",
              fmt::format("not found: the metrics are at {}\n", options_.path), false);
      return;
    }
    std::string body;
    try {
      body = body_();
    } catch (const std::exception&) {
      respond(c, "500 Internal Server Error", h, "", "the metrics could not be read\n", true);
      return;
    }
    write_response(c, "200 OK", h, prometheus_content_type, "", body, head, false);
  }

  // An answer with a text/plain body; `close` ends the connection after it.
  void respond(connection& c, std::string_view status, const request_head& h,
               std::string_view extra_headers, std::string_view text, bool close) {
    write_response(c, status, h, "text/plain; charset=utf-8", extra_headers, text,
                   h.status == head_status::complete && h.method == "HEAD", close);
  }

  void write_response(connection& c, std::string_view status, const request_head& h,
                      std::string_view content_type, std::string_view extra_headers,
                      std::string_view body, bool head_only, bool close) {
    const bool complete = h.status == head_status::complete;
    close = close || !complete || !h.keep_alive;
    std::string_view connection_header;
    if (close) {
      connection_header = "Connection: close\r\n";
    } else if (h.minor_version == 0) {
      connection_header = "Connection: keep-alive\r\n";
    }
    fmt::memory_buffer out;
    fmt::format_to(std::back_inserter(out),
                   "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n", status,
                   content_type, body.size(), extra_headers, connection_header);
    if (!head_only) out.append(body);
    c.stream.write(std::string_view(out.data(), out.size()));
    if (close) {
      c.closing = true;
      c.stream.close_write();
    }
  }

  loop::epoll_loop& loop_;
  std::function<std::string()> body_;
  metrics_endpoint_options options_;
  loop::stream_options stream_options_;
  std::uint64_t next_id_ = 0;
  // Declared after everything their callbacks use, so destroyed (deregistered) first.
  std::unordered_map<std::uint64_t, std::unique_ptr<connection>> connections_;
  loop::tcp_listener listener_;
};

metrics_endpoint::metrics_endpoint(loop::epoll_loop& loop, std::function<std::string()> body,
                                   const metrics_endpoint_options& options)
    : impl_(std::make_unique<impl>(loop, std::move(body), options)) {}
metrics_endpoint::metrics_endpoint(loop::epoll_loop& loop, core& c,
                                   const metrics_endpoint_options& options)
    : metrics_endpoint(
          loop,
          [&c] {
            const runtime_metrics m = c.metrics();
            return prometheus_text(std::span(&m, 1));
          },
          options) {
  c.metrics_enable();
}
metrics_endpoint::metrics_endpoint(metrics_endpoint&&) noexcept = default;
metrics_endpoint& metrics_endpoint::operator=(metrics_endpoint&&) noexcept = default;
metrics_endpoint::~metrics_endpoint() = default;

std::uint16_t metrics_endpoint::port() const noexcept {
  if (!impl_ || !impl_->listener_) return 0;
  try {
    return impl_->listener_.local_address().port();
  } catch (...) {
    return 0;
  }
}

loop::socket_address metrics_endpoint::local_address() const {
  return impl_ && impl_->listener_ ? impl_->listener_.local_address() : loop::socket_address();
}

std::size_t metrics_endpoint::connections() const noexcept {
  return impl_ ? impl_->connections_.size() : 0;
}

void metrics_endpoint::close() noexcept {
  if (!impl_) return;
  impl_->listener_.close();
  impl_->connections_.clear();
}

}  // namespace stakker::observe
