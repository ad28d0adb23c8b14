// SPDX-License-Identifier: MIT OR Apache-2.0
// tcp_stream: a buffered, non-blocking TCP connection on the epoll_loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>
#include <system_error>

#include "stakker/fwd.hpp"
#include "stakker/loop/byte_budget.hpp"
#include "stakker/loop/detail/io_buffer.hpp"
#include "stakker/loop/detail/registered_socket.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/export.hpp"
#include "stakker/loop/socket_address.hpp"
#include "stakker/loop/tcp_listener.hpp"
#include "stakker/loop/unique_fd.hpp"
#include "stakker/time.hpp"

namespace stakker::loop {

// What one tcp_stream::read did. Errors are values: nothing here throws for a peer's
// behaviour.
struct read_result {
  std::size_t bytes = 0;  // appended to input() by this call
  bool eof = false;       // the peer has closed its sending side: no more input, ever
  std::error_code error;  // a socket error (e.g. connection_reset); the stream is dead
  // Reading stopped because input() reached max_input or the input budget is spent. More
  // is read once input is consumed (consume() then calls `ready` in the loop's next turn)
  // or the budget has room again (the same).
  bool full = false;
};

// Limits of one tcp_stream. The defaults bound only the work of one read() call; the
// rest is unlimited until set. A stream fails with an error the owner sees from read() or
// flush() (as for a socket error; its output is discarded at once, freeing the memory),
// and `ready` is called so the owner looks:
// - std::errc::no_buffer_space when output is over max_output or the output budget,
// - std::errc::timed_out when a timeout passes.
struct stream_options {
  int priority = 5;  // of the readiness callback (epoll_loop levels 0..10)
  // One read() takes at most this much; more waiting in the socket is delivered as
  // readiness in the loop's next turn, so one fast peer cannot hold the thread. A server
  // that answers as it reads (an echo, a proxy) does better with less, about 16 KiB: its
  // answers then overlap the peer's next sends (docs/performance.md, the echo's floor).
  std::size_t max_read_per_call = 256 * 1024;
  // Unconsumed input never grows past this: read() stops there (read_result::full) and the
  // rest waits in the kernel, whose window then slows the peer down. A protocol with
  // messages of at most M bytes needs max_input >= M.
  std::size_t max_input = std::numeric_limits<std::size_t>::max();
  // A write() that would take pending output past this fails the stream.
  std::size_t max_output = std::numeric_limits<std::size_t>::max();
  // Shared caps over many streams (optional). Input: read() takes only what the budget
  // allows and waits for room (read_result::full). Output: when the budget is spent, a
  // write() to a stream that still has output pending fails it, so the clients that fall
  // behind are cut off, while a stream with nothing pending may always buffer its write.
  std::shared_ptr<byte_budget> input_budget;
  std::shared_ptr<byte_budget> output_budget;
  // Timeouts; zero turns one off. Measured with clock::now() on the runtime's timers.
  duration idle_timeout{};  // no byte received and none sent for this long
  // Input left unconsumed (an incomplete message) this long; a consume() that makes
  // progress starts it again for what is left.
  duration read_timeout{};
  duration closing_timeout{};  // close_write() called and output still unsent this long
};

namespace detail {
struct stream_timeouts;
}

// A connected (or connecting) TCP socket registered edge-triggered with an epoll_loop,
// with an input and an output buffer, after Stakker's TcpStreamBuf.
//
// The loop calls `ready(events)` (at the source's priority, on the runtime thread) whenever
// the socket becomes readable, writable, or fails. The owner then calls `read()`, which
// reads until the socket would block or a limit is reached (stream_options: the stream
// then calls `ready` again when reading can go on), handles `input()` and `consume()`s
// what it used, and
// calls `flush()` if it has output pending. Readiness is edge-triggered: a `ready` call that
// is ignored is not repeated, so read in every `ready` call that may carry input (or keep a
// note to read later). `write` only buffers; nothing is sent until `flush`.
//
// Destroying the stream deregisters it (no `ready` call afterwards) and closes the socket,
// discarding output not yet flushed. Move-only; the runtime thread only.
//
// `ready` may close or destroy this stream (or the actor owning it) and may throw; the
// rules are epoll_loop's for any readiness callback (the callback stays intact until it
// returns; an exception propagates out of the loop's turn, losing no other readiness).
class STAKKER_LOOP_EXPORT tcp_stream {
 public:
  tcp_stream() noexcept = default;
  // Takes a connected non-blocking socket (e.g. from tcp_listener::accept) and registers
  // it. Throws std::system_error if epoll refuses it.
  tcp_stream(epoll_loop& loop, unique_fd socket, fwd<std::uint32_t> ready, int priority = 5)
      : tcp_stream(loop, std::move(socket), std::move(ready), with_priority(priority)) {}
  tcp_stream(epoll_loop& loop, unique_fd socket, fwd<std::uint32_t> ready,
             const stream_options& options);
  // Takes an accepted connection, keeping its slot (max_connections) while it lives.
  tcp_stream(epoll_loop& loop, accepted&& a, fwd<std::uint32_t> ready,
             const stream_options& options = {});
  tcp_stream(tcp_stream&&) noexcept = default;
  tcp_stream& operator=(tcp_stream&& o) noexcept;
  ~tcp_stream() { release(); }

  // Starts a non-blocking connect. The outcome arrives as readiness: once connected the
  // socket becomes writable; a refused or failed connect shows as an error from the next
  // read() or flush(). Throws std::system_error only if no socket can be made.
  static tcp_stream connect(epoll_loop& loop, const socket_address& to, fwd<std::uint32_t> ready,
                            int priority = 5) {
    return connect(loop, to, std::move(ready), with_priority(priority));
  }
  static tcp_stream connect(epoll_loop& loop, const socket_address& to, fwd<std::uint32_t> ready,
                            const stream_options& options);

  explicit operator bool() const noexcept { return static_cast<bool>(socket_); }
  int native_handle() const noexcept { return socket_.get(); }

  // Reads until the socket would block (retrying EINTR) or a limit is reached (see
  // stream_options), appending to input(). After an end-of-stream or an error, returns
  // that again without reading.
  read_result read() { return read(all_events); }
  // The same, given the events of the `ready` call being handled: unless they report a
  // hang-up or error, a read that fills less than the space offered ends the call (the
  // receive queue was empty then, and data arriving later raises a new edge), which
  // saves the final would-block recv of every readiness.
  read_result read(std::uint32_t events);
  // Unconsumed input, oldest first.
  std::string_view input() const noexcept { return in_.data(); }
  // Drops the first `n` bytes of input. Throws std::out_of_range if n > input().size().
  // If reading had stopped at max_input, `ready` is called in the loop's next turn.
  void consume(std::size_t n) {
    in_.consume(n);
    if (guard_ != nullptr || input_full_) consumed(n);
  }
  bool input_eof() const noexcept { return eof_; }

  // Appends to the output buffer (discarded once the stream has failed). Past a limit
  // (max_output, the output budget) the stream fails instead (no_buffer_space). Throws
  // std::logic_error after close_write().
  void write(std::string_view bytes);
  // Sends buffered output until it is all sent or the socket would block (then `ready`
  // is called again when it is writable). Returns the socket error, if any; once an
  // error is seen the output is discarded and every later flush returns it. While a
  // connect is in progress it also checks its outcome, even with nothing buffered: a
  // refused connect is returned as connection_refused.
  std::error_code flush();
  // write(bytes) then flush(), without copying what the socket takes at once: with nothing
  // pending (and no budget, timeout or connect in progress to account for) the bytes go
  // straight from `bytes` to the socket, and only what it refuses is buffered. For a reply
  // made whole (an echo of input(), a rendered response), this saves a copy of every byte.
  std::error_code send(std::string_view bytes);
  std::size_t pending_output() const noexcept { return out_.size(); }
  // Half-close: once the buffered output is flushed, tells the peer no more data follows
  // (shutdown(SHUT_WR)); input can still be read. Flushes, and returns what flush returns.
  // While a connect is still in progress the shutdown waits for it: the connection makes
  // the socket writable, and the flush() in that `ready` call sends the end-of-stream.
  std::error_code close_write();

  // TCP_NODELAY on or off. Throws std::system_error on failure.
  void set_nodelay(bool on);
  // The first socket error seen (empty if none).
  std::error_code error() const noexcept { return error_; }
  socket_address local_address() const;
  socket_address peer_address() const;

  // Deregisters and closes now (as destruction does), giving back what the budgets lent
  // and releasing the connection slot.
  void close() noexcept;

 private:
  static constexpr std::uint32_t all_events = ~std::uint32_t{0};
  static stream_options with_priority(int priority) {
    stream_options o;
    o.priority = priority;
    return o;
  }
  // Budgets and timeouts, allocated only when some are set.
  struct guard {
    std::shared_ptr<byte_budget> input, output;
    std::shared_ptr<detail::stream_timeouts> timeouts;
    bool waiting_input = false;  // on input->wait()
  };
  void fail(int err) noexcept;
  // One send of `d` (non-empty), again after EINTR: the bytes the socket took, or 0 if it
  // would block or failed (then the stream has failed: error_).
  std::size_t send_once(std::string_view d) noexcept;
  bool connect_done() noexcept;
  void consumed(std::size_t n);
  void sent(std::size_t n) noexcept;
  void check_timeouts() noexcept;
  void release() noexcept;

  detail::registered_socket socket_;
  detail::io_buffer in_;
  detail::io_buffer out_;
  std::error_code error_;
  std::size_t max_read_ = 256 * 1024;
  std::size_t max_input_ = std::numeric_limits<std::size_t>::max();
  std::size_t max_output_ = std::numeric_limits<std::size_t>::max();
  std::unique_ptr<guard> guard_;
  connection_slot slot_;
  bool input_full_ = false;   // read() stopped at max_input: consume() wakes the owner
  std::uint32_t hangup_ = 0;  // hang-up events seen by read(events): read to the end
  bool eof_ = false;
  bool write_closing_ = false;  // close_write() called
  bool write_closed_ = false;   // shutdown(SHUT_WR) done
  bool connecting_ = false;     // connect() in progress, not yet seen to be done
};

}  // namespace stakker::loop
