// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/tcp_stream.hpp"

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <stdexcept>

#include "stakker/loop/detail/stream_timeouts.hpp"
#include "sys.hpp"

namespace stakker::loop {

namespace {
// Registered once for everything: edge-triggered, so writability costs nothing until the
// send buffer has been full.
constexpr std::uint32_t stream_events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
// Free space guaranteed before each recv.
constexpr std::size_t read_chunk = 16 * 1024;
// An emptied output buffer up to this size is kept for the next write (no malloc per
// message); a larger one is freed.
constexpr std::size_t keep_output_capacity = 64 * 1024;
}  // namespace

tcp_stream::tcp_stream(epoll_loop& loop, unique_fd socket, fwd<std::uint32_t> ready,
                       const stream_options& o)
    : socket_(loop, std::move(socket), stream_events, o.priority, std::move(ready)),
      max_read_(o.max_read_per_call),
      max_input_(o.max_input),
      max_output_(o.max_output) {
  if (max_read_ == 0 || max_input_ == 0)
    throw std::invalid_argument(
        "stakker::loop::tcp_stream: max_read_per_call and max_input must be at least 1");
  const bool timed = o.idle_timeout > duration::zero() || o.read_timeout > duration::zero() ||
                     o.closing_timeout > duration::zero();
  if (!o.input_budget && !o.output_budget && !timed) return;
  guard_ = std::make_unique<guard>();
  guard_->input = o.input_budget;
  guard_->output = o.output_budget;
  if (timed) {
    auto t = std::make_shared<detail::stream_timeouts>();
    t->rt = &loop.rt();
    t->wake = socket_.source().notifier();
    t->idle = o.idle_timeout;
    t->read = o.read_timeout;
    t->closing = o.closing_timeout;
    t->last_activity = clock::now();
    t->arm_by(t->deadline());
    guard_->timeouts = std::move(t);
  }
}

tcp_stream::tcp_stream(epoll_loop& loop, accepted&& a, fwd<std::uint32_t> ready,
                       const stream_options& options)
    : tcp_stream(loop, std::move(a.socket), std::move(ready), options) {
  slot_ = std::move(a.slot);
}

tcp_stream& tcp_stream::operator=(tcp_stream&& o) noexcept {
  if (this != &o) {
    release();
    socket_ = std::move(o.socket_);
    in_ = std::move(o.in_);
    out_ = std::move(o.out_);
    error_ = o.error_;
    max_read_ = o.max_read_;
    max_input_ = o.max_input_;
    max_output_ = o.max_output_;
    guard_ = std::move(o.guard_);
    slot_ = std::move(o.slot_);
    input_full_ = o.input_full_;
    hangup_ = o.hangup_;
    eof_ = o.eof_;
    write_closing_ = o.write_closing_;
    write_closed_ = o.write_closed_;
    connecting_ = o.connecting_;
  }
  return *this;
}

// Gives back what the budgets lent, stops the timeouts, deregisters and closes.
void tcp_stream::release() noexcept {
  if (guard_ != nullptr) {
    if (guard_->input) guard_->input->give(in_.size());
    if (guard_->output) guard_->output->give(out_.size());
    // The runtime exists while the loop does (the loop holds it).
    if (guard_->timeouts) guard_->timeouts->cancel(socket_.source().loop() != nullptr);
    guard_.reset();
  }
  socket_.reset();
  in_ = detail::io_buffer();
  out_ = detail::io_buffer();
  slot_.release();
}

tcp_stream tcp_stream::connect(epoll_loop& loop, const socket_address& to, fwd<std::uint32_t> ready,
                               const stream_options& options) {
  unique_fd s = sys::make_socket(to, SOCK_STREAM);
  // A non-blocking connect returns EINPROGRESS; EINTR also leaves it going on.
  const int rc = ::connect(s.get(), to.native(), to.native_size());
  const int err = rc < 0 ? errno : 0;
  tcp_stream stream(loop, std::move(s), std::move(ready), options);
  // An immediate failure is reported by read/flush; the unconnected socket polls as
  // hung up, so `ready` is called.
  if (err == EINPROGRESS || err == EINTR)
    stream.connecting_ = true;
  else if (err != 0)
    stream.fail(err);
  return stream;
}

void tcp_stream::fail(int err) noexcept {
  if (!error_) error_ = sys::errno_code(err);
  if (guard_ != nullptr && guard_->output) guard_->output->give(out_.size());
  // The memory goes now, not when the owner gets round to closing.
  out_ = detail::io_buffer();
}

void tcp_stream::check_timeouts() noexcept {
  if (guard_ != nullptr && guard_->timeouts && guard_->timeouts->expired && !error_)
    fail(ETIMEDOUT);
}

void tcp_stream::consumed(std::size_t n) {
  if (guard_ != nullptr) {
    if (guard_->input) guard_->input->give(n);
    // Progress: the read timeout starts again for what is left (a peer that pipelines
    // rarely leaves the buffer empty), or stops when nothing is.
    if (guard_->timeouts && n != 0) {
      if (in_.empty())
        guard_->timeouts->input_since.reset();
      else if (guard_->timeouts->read > duration::zero())
        guard_->timeouts->input_since = clock::now();
    }
  }
  if (input_full_ && n != 0) {
    input_full_ = false;
    socket_.source().post(EPOLLIN);
  }
}

void tcp_stream::sent(std::size_t n) noexcept {
  if (guard_ == nullptr) return;
  if (guard_->output) guard_->output->give(n);
  if (guard_->timeouts) guard_->timeouts->last_activity = clock::now();
}

read_result tcp_stream::read(std::uint32_t events) {
  if (!socket_) throw std::logic_error("stakker::loop::tcp_stream::read: stream is closed");
  read_result r;
  check_timeouts();
  if (error_) {
    r.error = error_;
    return r;
  }
  if (eof_) {
    r.eof = true;
    return r;
  }
  // A hang-up may have come with the data: then read on to see the end-of-stream. It is
  // remembered: a read that stopped at a limit resumes with plain EPOLLIN.
  constexpr std::uint32_t hangup_events = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  if (events != all_events) hangup_ |= events & hangup_events;
  const bool stop_short = ((events | hangup_) & hangup_events) == 0;
  // What this call may take: the least of its own cap, the room under max_input and the
  // input budget's room. Which one binds decides how reading resumes.
  const std::size_t buffer_room = max_input_ > in_.size() ? max_input_ - in_.size() : 0;
  std::size_t room = std::min(max_read_, buffer_room);
  byte_budget* budget = guard_ != nullptr ? guard_->input.get() : nullptr;
  const std::size_t budget_room = budget != nullptr ? budget->available() : room;
  if (budget != nullptr) guard_->waiting_input = false;
  room = std::min(room, budget_room);
  const bool was_empty = in_.empty();
  // Called when `room` is used up: more may be waiting in the socket, with no new edge.
  auto stopped = [&] {
    if (room == buffer_room) {
      r.full = input_full_ = true;  // consume() resumes
    } else if (budget != nullptr && room == budget_room) {
      r.full = true;  // the budget resumes, once some is given back
      if (!guard_->waiting_input) {
        guard_->waiting_input = true;
        budget->wait(socket_.source().notifier());
      }
    } else {
      socket_.source().post(EPOLLIN);  // the per-call cap: the next turn goes on
    }
  };
  auto note_input = [&] {
    if (guard_ == nullptr || !guard_->timeouts) return;
    detail::stream_timeouts& t = *guard_->timeouts;
    t.last_activity = clock::now();
    if (was_empty && !in_.empty() && t.read > duration::zero()) {
      t.input_since = t.last_activity;
      t.arm_by(saturating_add(t.last_activity, t.read));
    }
  };
  for (;;) {
    if (r.bytes == room) {
      stopped();
      break;
    }
    const std::size_t want = std::min(read_chunk, room - r.bytes);
    std::span<char> space = in_.prepare(want);
    const std::size_t ask = std::min(space.size(), room - r.bytes);
    const ssize_t n = ::recv(socket_.get(), space.data(), ask, 0);
    if (n > 0) {
      const auto got = static_cast<std::size_t>(n);
      in_.commit(got);
      if (budget != nullptr) budget->force_take(got);  // within its room, taken above
      r.bytes += got;
      if (stop_short && got < ask) break;
    } else if (n == 0) {
      eof_ = r.eof = true;
      break;
    } else if (errno == EINTR) {
      continue;
    } else if (sys::would_block(errno)) {
      break;
    } else {
      fail(errno);
      r.error = error_;
      break;
    }
  }
  if (r.bytes != 0) note_input();
  return r;
}

void tcp_stream::write(std::string_view bytes) {
  if (write_closing_) throw std::logic_error("stakker::loop::tcp_stream::write: after close_write");
  if (error_ || bytes.empty()) return;
  byte_budget* budget = guard_ != nullptr ? guard_->output.get() : nullptr;
  const bool over_max = bytes.size() > max_output_ - std::min(max_output_, out_.size());
  // Past the budget only a stream that keeps up (nothing pending) may still buffer.
  const bool over_budget = budget != nullptr && bytes.size() > budget->available() && !out_.empty();
  if (over_max || over_budget) {
    fail(ENOBUFS);
    socket_.source().post(EPOLLERR);  // the owner may not flush before its next readiness
    return;
  }
  if (budget != nullptr) budget->force_take(bytes.size());
  try {
    out_.append(bytes);
  } catch (...) {
    if (budget != nullptr) budget->give(bytes.size());
    throw;
  }
}

std::error_code tcp_stream::flush() {
  if (!socket_) throw std::logic_error("stakker::loop::tcp_stream::flush: stream is closed");
  check_timeouts();
  if (error_) return error_;
  while (!out_.empty()) {
    const std::size_t n = send_once(out_.data());
    if (n == 0) return error_;  // none if it would block: EPOLLOUT's edge calls `ready`
    connecting_ = false;        // nothing is sent before the handshake is done
    out_.consume(n);
    sent(n);
  }
  if (out_.capacity() > keep_output_capacity) out_.release_if_empty();
  if (write_closing_ && guard_ != nullptr && guard_->timeouts)
    guard_->timeouts->closing_since.reset();  // all sent: the closing timeout is met
  // Nothing sent proves the connection yet: ask the socket, or a failed connect would go
  // unseen by a client that only writes (its readiness edge came once). Costs a
  // getsockopt and a getpeername per flush until the connect is seen to be done.
  if (connecting_ && !connect_done()) return error_;
  if (write_closing_ && !write_closed_) {
    if (::shutdown(socket_.get(), SHUT_WR) < 0) {
      fail(errno);
      return error_;
    }
    write_closed_ = true;
  }
  return {};
}

std::error_code tcp_stream::send(std::string_view bytes) {
  if (!socket_) throw std::logic_error("stakker::loop::tcp_stream::send: stream is closed");
  if (write_closing_) throw std::logic_error("stakker::loop::tcp_stream::send: after close_write");
  // Output waiting goes first, and budgets, timeouts and a connect in progress are flush's to
  // account for: then the buffered way.
  if (!out_.empty() || guard_ != nullptr || connecting_ || error_) {
    write(bytes);
    return flush();
  }
  while (!bytes.empty()) {
    const std::size_t n = send_once(bytes);
    if (n == 0) {
      if (error_) return error_;
      write(bytes);  // EPOLLOUT's edge calls `ready` when there is room for the rest
      return {};
    }
    bytes.remove_prefix(n);
  }
  return {};
}

std::size_t tcp_stream::send_once(std::string_view d) noexcept {
  for (;;) {
    const ssize_t n = ::send(socket_.get(), d.data(), d.size(), MSG_NOSIGNAL);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && !sys::would_block(errno)) fail(errno);
    return 0;
  }
}

// Whether the connect finished: false while connecting (the connection's writability then
// calls `ready`), or if the connect failed (then error_, from the socket's pending error).
// A half-close waits for it: shutting down a socket still in its handshake would abort
// the connect (Linux disconnects a socket in SYN_SENT).
bool tcp_stream::connect_done() noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0) {
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    if (::getpeername(socket_.get(), reinterpret_cast<sockaddr*>(&peer), &plen) == 0) {
      connecting_ = false;
      return true;
    }
    if (errno == ENOTCONN) return false;  // still connecting
    err = errno;
  }
  fail(err);
  return false;
}

std::error_code tcp_stream::close_write() {
  if (!write_closing_ && guard_ != nullptr && guard_->timeouts) {
    detail::stream_timeouts& t = *guard_->timeouts;
    t.closing_since = clock::now();
    t.arm_by(saturating_add(*t.closing_since, t.closing));
  }
  write_closing_ = true;
  return flush();
}

void tcp_stream::set_nodelay(bool on) {
  const int v = on ? 1 : 0;
  if (::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0)
    sys::throw_errno("setsockopt(TCP_NODELAY)");
}

socket_address tcp_stream::local_address() const { return sys::local_address_of(socket_.get()); }

socket_address tcp_stream::peer_address() const { return sys::peer_address_of(socket_.get()); }

void tcp_stream::close() noexcept { release(); }

}  // namespace stakker::loop
