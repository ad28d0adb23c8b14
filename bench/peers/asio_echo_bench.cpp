// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: the loopback echo server written with plain Asio, as Asio's own
// async_tcp_echo_server example writes it: a session object per connection kept alive by
// shared_from_this, async_read_some then async_write handlers chained on it, an acceptor
// chaining async_accept, one io_context run by one thread. The only changes from the
// example are TCP_NODELAY on accepted sockets (the stakker server sets it too) and a 16 KiB
// read buffer (the size of each recv the stakker tcp_stream makes) instead of 1 KiB. Same
// client and workloads as loop_echo_bench.cpp (echo_client.hpp).
#include <benchmark/benchmark.h>
#include <asio.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>

#include "../echo_client.hpp"

namespace {

using asio::ip::tcp;

class session : public std::enable_shared_from_this<session> {
 public:
  explicit session(tcp::socket socket) : socket_(std::move(socket)) {}

  void start() { do_read(); }

 private:
  void do_read() {
    auto self(shared_from_this());
    socket_.async_read_some(asio::buffer(data_, max_length),
                            [this, self](std::error_code ec, std::size_t length) {
                              if (!ec) do_write(length);
                            });
  }

  void do_write(std::size_t length) {
    auto self(shared_from_this());
    asio::async_write(socket_, asio::buffer(data_, length),
                      [this, self](std::error_code ec, std::size_t /*length*/) {
                        if (!ec) do_read();
                      });
  }

  tcp::socket socket_;
  enum { max_length = 16 * 1024 };
  char data_[max_length];
};

class server {
 public:
  server(asio::io_context& io, const tcp::endpoint& at) : acceptor_(io, at) { do_accept(); }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void do_accept() {
    acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
      if (!ec) {
        socket.set_option(tcp::no_delay(true));
        std::make_shared<session>(std::move(socket))->start();
      }
      do_accept();
    });
  }

  tcp::acceptor acceptor_;
};

// The server thread: one io_context (single-threaded), stopped with io_context::stop.
class asio_echo_server {
 public:
  asio_echo_server()
      : server_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
        port_(server_.port()),
        thread_([this] { io_.run(); }) {}
  ~asio_echo_server() {
    io_.stop();
    thread_.join();
  }
  asio_echo_server(const asio_echo_server&) = delete;
  asio_echo_server& operator=(const asio_echo_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  pthread_t thread() { return thread_.native_handle(); }

 private:
  asio::io_context io_{1};  // one thread runs it
  server server_;
  std::uint16_t port_;
  std::thread thread_;  // last: starts once the rest exists
};

const bool registered = bench::echo::register_server<asio_echo_server>("asio");

}  // namespace
