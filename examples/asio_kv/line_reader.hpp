// SPDX-License-Identifier: MIT OR Apache-2.0
// line_reader: the input side of a protocol connection: '\n'-terminated lines and
// length-prefixed values from a TCP socket, through one buffer.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "stakker/asio/asio.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/loop/byte_budget.hpp"

namespace kv {

namespace net = stakker::asio::net;

// Used by one task at a time (the task serving or driving a connection), on the runtime's
// thread. Reads are Asio operations awaited with use_task: the task resumes from the
// runtime's queue. Destroying the awaiting task cancels the read. The socket is passed to
// each read, which is awaited at once, so it outlives the read. Whatever the reads write
// into is shared with the operation (stakker::asio::shared_buffer), so a reader may be destroyed
// while a cancelled read is still winding down.
class line_reader {
 public:
  line_reader();

  // The next line without its '\n': a view into the buffer, valid until the next read.
  // Throws stakker::asio::system_error: net::error::eof when the stream ends first (then
  // buffered() says whether it ended between lines), net::error::not_found when no '\n'
  // comes within max_line bytes, or the socket's error.
  stakker::coro::task<std::string_view> line(net::ip::tcp::socket& s);

  // The next `n` bytes: first what is buffered, then the rest read straight into the
  // string given back, which grows as the bytes arrive (a length declared but never sent
  // takes no memory). Each step of up to 64 KiB is charged to `budget` (if any) while the
  // value is being received; a step that does not fit throws std::system_error
  // (no_buffer_space). Otherwise throws as line() does.
  stakker::coro::task<std::shared_ptr<std::string>> value(
      net::ip::tcp::socket& s, std::size_t n, stakker::loop::byte_budget* budget = nullptr);

  // Reads and drops everything until the stream ends or fails.
  stakker::coro::task<void> skip_rest(net::ip::tcp::socket& s);

  // Bytes received and not yet handed out.
  std::size_t buffered() const noexcept { return buf_->size() - used_; }

 private:
  void discard_used();

  std::shared_ptr<std::string> buf_;
  std::size_t used_ = 0;  // the front of *buf_ already handed out (the last line)
};

}  // namespace kv
