// SPDX-License-Identifier: MIT OR Apache-2.0
// udp_queue: a non-blocking UDP socket with an outgoing datagram queue, on the epoll_loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "stakker/fwd.hpp"
#include "stakker/loop/detail/registered_socket.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/export.hpp"
#include "stakker/loop/socket_address.hpp"
#include "stakker/loop/unique_fd.hpp"

namespace stakker::loop {

struct datagram {
  socket_address peer;  // the sender (receive) or destination (empty: the connected peer)
  std::string data;
};

// A UDP socket registered edge-triggered with an epoll_loop, after Stakker's UdpQueue and
// UdpServerQueue: `push` queues datagrams, `flush` sends until the socket would block
// (then `ready` is called again when it is writable), `receive` reads every waiting
// datagram. `ready(events)` runs on the runtime thread; call receive() in it. UDP loses
// datagrams by design: a datagram the kernel rejects (e.g. message_size, or
// connection_refused on a connected socket after an ICMP error) is dropped and the error
// returned, and the queue goes on with the next one. Move-only. `ready` may close or
// destroy this queue and may throw, under epoll_loop's rules for readiness callbacks.
class STAKKER_LOOP_EXPORT udp_queue {
 public:
  udp_queue() noexcept = default;

  // A socket bound to `at` (port 0 picks a free port). Throws std::system_error naming
  // the address on failure.
  static udp_queue bind(epoll_loop& loop, const socket_address& at, fwd<std::uint32_t> ready,
                        int priority = 5);
  // A socket bound to `at` and connected to `peer`: push(data) sends there, and only its
  // datagrams are received.
  static udp_queue connect(epoll_loop& loop, const socket_address& at, const socket_address& peer,
                           fwd<std::uint32_t> ready, int priority = 5);

  // Queues a datagram to the connected peer, or to `to`.
  void push(std::string_view data) { out_.push_back({socket_address(), std::string(data)}); }
  void push(const socket_address& to, std::string_view data) {
    out_.push_back({to, std::string(data)});
  }
  // Sends queued datagrams in order until done or would block. Returns the first error
  // (the datagram that caused it is dropped; the others stay queued or are sent).
  std::error_code flush();
  std::size_t pending_output() const noexcept { return out_.size(); }

  // Appends every waiting datagram (at most `max`) to `out`; returns the first error, if
  // any (e.g. connection_refused reported for an earlier send on a connected socket). An
  // error does not end the call: the datagrams waiting behind it are read too (the
  // kernel reports a pending error first). Only an error that says the call itself is
  // wrong (bad_file_descriptor, ...) or 64 errors in a row stop it early.
  // Stopping at `max` leaves the rest waiting with no new readiness edge: call again.
  std::error_code receive(std::vector<datagram>& out, std::size_t max = SIZE_MAX);

  socket_address local_address() const;
  int native_handle() const noexcept { return socket_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(socket_); }
  void close() noexcept;

 private:
  detail::registered_socket socket_;
  std::deque<datagram> out_;
};

}  // namespace stakker::loop
