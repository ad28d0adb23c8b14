// SPDX-License-Identifier: MIT OR Apache-2.0
#include "line_reader.hpp"

#include <algorithm>

#include "protocol.hpp"
#include "stakker/asio/shared_buffer.hpp"

namespace kv {

using stakker::asio::shared_buffer;
using stakker::asio::use_task;

namespace {
// The most a value read takes (and charges to the budget) in one step.
constexpr std::size_t step = 64 * 1024;
}  // namespace

line_reader::line_reader() : buf_(std::make_shared<std::string>()) {
  // A read for a line takes as much as fits (a line, and what follows it: often a whole
  // small value, or more pipelined commands), at least 512 bytes.
  buf_->reserve(max_line);
}

void line_reader::discard_used() {
  buf_->erase(0, used_);
  used_ = 0;
}

stakker::coro::task<std::string_view> line_reader::line(net::ip::tcp::socket& s) {
  discard_used();
  // Completes at once if a whole line is buffered already; buffers at most max_line bytes.
  const std::size_t n =
      co_await net::async_read_until(s, shared_buffer(buf_, max_line), '\n', use_task);
  used_ = n;
  co_return std::string_view(buf_->data(), n - 1);
}

stakker::coro::task<std::shared_ptr<std::string>> line_reader::value(
    net::ip::tcp::socket& s, std::size_t n, stakker::loop::byte_budget* budget) {
  discard_used();
  const std::size_t have = std::min(buf_->size(), n);
  auto out = std::make_shared<std::string>();
  // Values up to one step are allocated once; larger ones grow as their bytes arrive.
  out->reserve(std::min(n, step));
  out->assign(buf_->data(), have);
  used_ = have;
  // What this value holds of the budget, given back however the read ends (the task may
  // be destroyed where it waits).
  struct lease {
    stakker::loop::byte_budget* b;
    std::size_t held = 0;
    ~lease() {
      if (b != nullptr) b->give(held);
    }
  } held{budget};
  while (out->size() < n) {
    const std::size_t chunk = std::min(step, n - out->size());
    if (budget != nullptr) {
      if (!budget->try_take(chunk)) throw stakker::asio::system_error(net::error::no_buffer_space);
      held.held += chunk;
    }
    co_await net::async_read(s, shared_buffer(out, out->size() + chunk),
                             net::transfer_exactly(chunk), use_task);
  }
  co_return out;
}

stakker::coro::task<void> line_reader::skip_rest(net::ip::tcp::socket& s) {
  buf_->clear();
  used_ = 0;
  try {
    for (;;) {
      co_await net::async_read(s, shared_buffer(buf_, 4096), net::transfer_at_least(1), use_task);
      buf_->clear();
    }
  } catch (const stakker::asio::system_error&) {
    // The end of the stream, or an error: nothing more to wait for either way.
  }
}

}  // namespace kv
