// SPDX-License-Identifier: MIT OR Apache-2.0
// The key-value example's server (examples/asio_kv) over loopback TCP: a bulk exchange byte
// for byte, the protocol's replies and errors, stopping, and the example's load generator.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "asio/asio_support.hpp"
#include "asio/kv_support.hpp"
#include "asio_kv/load.hpp"
#include "asio_kv/protocol.hpp"
#include "asio_kv/server.hpp"
#include "asio_kv/teardown.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/stakker.hpp"
#include "stakker/sync/piped_thread.hpp"

namespace {

using namespace std::chrono_literals;
namespace net = stakker::asio::net;
using stakker::asio::use_task;
using stakker::coro::task;
using tcp = net::ip::tcp;

// --- the test's own client side: plain Asio reads, awaited from tasks --------------------

// One '\n'-terminated line from `s` (without the '\n'), through `buf`.
task<std::string> read_line(tcp::socket* s, std::string* buf) {
  const std::size_t n =
      co_await net::async_read_until(*s, net::dynamic_buffer(*buf), '\n', use_task);
  std::string line = buf->substr(0, n - 1);
  buf->erase(0, n);
  co_return line;
}

// The next `n` bytes from `s`, through `buf`.
task<std::string> read_bytes(tcp::socket* s, std::string* buf, std::size_t n) {
  if (buf->size() < n) {
    co_await net::async_read(*s, net::dynamic_buffer(*buf), net::transfer_exactly(n - buf->size()),
                             use_task);
  }
  std::string bytes = buf->substr(0, n);
  buf->erase(0, n);
  co_return bytes;
}

// Sends `request`, closes the sending side, and gives everything received until the server
// closes.
task<std::string> converse(net::io_context* ioc, tcp::endpoint at, std::string request) {
  tcp::socket s(*ioc);
  co_await s.async_connect(at, use_task);
  co_await net::async_write(s, net::buffer(request), use_task);
  s.shutdown(tcp::socket::shutdown_send);
  std::string got;
  std::array<char, 4096> chunk;
  for (;;) {
    bool end = false;
    try {
      const std::size_t n = co_await s.async_read_some(net::buffer(chunk), use_task);
      got.append(chunk.data(), n);
    } catch (const stakker::asio::system_error& e) {
      if (e.code() != net::error::eof) throw;
      end = true;
    }
    if (end) break;
  }
  co_return got;
}

// Value `i` of connection `conn`: `size` pseudo-random bytes (xorshift64*), distinct for every
// connection and value.
std::string test_value(int conn, int i, std::size_t size) {
  std::string v(size, '\0');
  std::uint64_t x = 0x2545f4914f6cdd1dULL ^ (static_cast<std::uint64_t>(conn) << 20) ^
                    static_cast<std::uint64_t>(i + 1);
  for (std::size_t at = 0; at < size; at += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const std::uint64_t r = x * 0x2545f4914f6cdd1dULL;
    std::memcpy(v.data() + at, &r, std::min<std::size_t>(8, size - at));
  }
  return v;
}

struct bulk {
  int values;        // per connection
  std::size_t size;  // of each value
};

// One connection's part of the bulk exchange: SETs every value, then GETs each back and
// compares it byte for byte; then QUIT, BYE and the end of the stream. Gives "" if all was
// right, else what was not; counts the bytes that came back intact in `*intact`.
task<std::string> exchange(net::io_context* ioc, tcp::endpoint at, int conn, bulk b,
                           std::uint64_t* intact) {
  tcp::socket s(*ioc);
  co_await s.async_connect(at, use_task);
  std::string buf;
  const std::string prefix = "conn" + std::to_string(conn) + "/";
  for (int i = 0; i < b.values; ++i) {
    const std::string value = test_value(conn, i, b.size);
    const std::string key = prefix + std::to_string(i);
    const std::string head = "SET " + key + ' ' + std::to_string(b.size) + '\n';
    const std::array<net::const_buffer, 2> request{net::buffer(head), net::buffer(value)};
    co_await net::async_write(s, request, use_task);
    const std::string line = co_await read_line(&s, &buf);
    if (line != "OK") co_return "SET " + key + " -> " + line;
  }
  for (int i = 0; i < b.values; ++i) {
    const std::string key = prefix + std::to_string(i);
    const std::string get = "GET " + key + '\n';
    co_await net::async_write(s, net::buffer(get), use_task);
    const std::string line = co_await read_line(&s, &buf);
    if (line != "VALUE " + std::to_string(b.size)) co_return "GET " + key + " -> " + line;
    const std::string value = co_await read_bytes(&s, &buf, b.size);
    if (value != test_value(conn, i, b.size)) co_return "GET " + key + " -> different bytes";
    *intact += value.size();
  }
  co_await net::async_write(s, net::buffer("QUIT\n", 5), use_task);
  if (const std::string line = co_await read_line(&s, &buf); line != "BYE")
    co_return "QUIT -> " + line;
  bool end = false;
  try {
    std::array<char, 16> more;
    co_await s.async_read_some(net::buffer(more), use_task);
  } catch (const stakker::asio::system_error& e) {
    end = e.code() == net::error::eof;
  }
  co_return end ? "" : "no end of stream after BYE";
}

// --- the server under test ----------------------------------------------------------------

struct KvServer : kv_test::server_fixture {
  void SetUp() override { start(); }

  // Runs `t`, then shuts down; gives its value.
  std::optional<std::string> run_task(task<std::string> t) {
    asio_test::answer<std::string> got;
    stakker::coro::spawn(rt, std::move(t),
                         stakker::ret_do<std::string>([&](std::optional<std::string> v) {
                           got.record(std::move(v));
                           rt.shutdown(stakker::stop_cause::stopped());
                         }));
    EXPECT_TRUE(run());
    EXPECT_EQ(got.calls, 1);
    return got.value;
  }
  std::optional<std::string> talk(std::string request) {
    return run_task(converse(&ioc, at, std::move(request)));
  }
};

TEST_F(KvServer, a_loopback_tcp_exchange_100_connections_1_mb_each_byte_for_byte) {
  constexpr int connections = 100;
  constexpr bulk b{16, 64 * 1024};  // 1 MiB per connection
  std::vector<std::string> problems;
  std::uint64_t intact = 0;
  int finished = 0;
  for (int c = 0; c < connections; ++c) {
    stakker::coro::spawn(
        rt, exchange(&ioc, at, c, b, &intact),
        stakker::ret_do<std::string>([&, c](std::optional<std::string> r) {
          if (!r || !r->empty())
            problems.push_back("connection " + std::to_string(c) + ": " + (r ? *r : "dropped"));
          if (++finished == connections) rt.shutdown(stakker::stop_cause::stopped());
        }));
  }
  ASSERT_TRUE(run());
  EXPECT_EQ(finished, connections);
  EXPECT_EQ(problems, std::vector<std::string>{});
  EXPECT_EQ(intact, std::uint64_t{connections} * b.values * b.size);
  EXPECT_EQ(stats.connections, std::uint64_t{connections});
  EXPECT_EQ(stats.requests, std::uint64_t{connections} * (2 * b.values + 1));
  EXPECT_EQ(stats.keys, std::uint64_t{connections} * b.values);
  EXPECT_EQ(stats.rejected, 0u);
  EXPECT_EQ(stats.broken, 0u);
}

TEST_F(KvServer, answers_pipelined_commands_in_order_with_binary_values) {
  const std::string value("a\nb\0c\r\n", 7);
  EXPECT_EQ(talk("SET k 7\n" + value + "GET k\nDEL k\nDEL k\nGET k\nQUIT\n"),
            "OK\nVALUE 7\n" + value + "DELETED\nNONE\nNONE\nBYE\n");
  EXPECT_EQ(stats.requests, 6u);
  EXPECT_EQ(stats.keys, 0u);
}

TEST_F(KvServer, takes_typed_lines_ending_in_cr_lf_and_ignores_empty_ones) {
  EXPECT_EQ(talk("SET k 2\r\nhi\r\n\nGET k\r\nQUIT\r\n"), "OK\nVALUE 2\nhiBYE\n");
  EXPECT_EQ(stats.requests, 3u);
}

TEST_F(KvServer, a_get_of_a_missing_key_answers_none) {
  EXPECT_EQ(talk("GET nothing-here\nQUIT\n"), "NONE\nBYE\n");
}

TEST_F(KvServer, an_empty_value_is_a_value) {
  EXPECT_EQ(talk("SET e 0\nGET e\n"), "OK\nVALUE 0\n");
  EXPECT_EQ(stats.keys, 1u);
}

TEST_F(KvServer, a_bad_command_gets_an_error_reply_and_the_connection_closes) {
  // Nothing after the bad command is answered.
  EXPECT_EQ(talk("SET a 1\nxFROB a\nGET a\n"), "OK\nERROR unknown command\n");
  EXPECT_EQ(stats.rejected, 1u);
}

TEST_F(KvServer, malformed_commands_get_their_reasons) {
  EXPECT_EQ(talk("SET a\n"), "ERROR bad length\n");
  EXPECT_EQ(talk("GET two words\n"), "ERROR too many arguments\n");
  EXPECT_EQ(talk("SET a 99999999999\n"), "ERROR value too large\n");
  EXPECT_EQ(talk(std::string(3000, 'x')), "ERROR line too long\n");
  EXPECT_EQ(stats.rejected, 4u);
  EXPECT_EQ(stats.requests, 0u);
}

TEST_F(KvServer, a_stream_ending_inside_a_value_counts_as_broken) {
  EXPECT_EQ(talk("SET a 10\nabc"), "");
  EXPECT_EQ(stats.broken, 1u);
  EXPECT_EQ(stats.keys, 0u);
}

// The client reads one answer, then the server is dropped while the client waits for more:
// the connection's task, waiting in a read, is destroyed (cancelling the read) and the
// socket closes, so the client sees the end of the stream.
task<std::string> wait_for_close(net::io_context* ioc, tcp::endpoint at,
                                 stakker::actor_own<kv::server>* srv) {
  tcp::socket s(*ioc);
  co_await s.async_connect(at, use_task);
  std::string buf;
  co_await net::async_write(s, net::buffer("GET x\n", 6), use_task);
  const std::string line = co_await read_line(&s, &buf);
  srv->reset();  // the last owner: the server stops, and its connections with it
  std::string outcome = line + ", then ";
  try {
    std::array<char, 16> more;
    co_await s.async_read_some(net::buffer(more), use_task);
    outcome += "more data";
  } catch (const stakker::asio::system_error& e) {
    outcome += e.code() == net::error::eof ? "end of stream" : e.code().message();
  }
  co_return outcome;
}

TEST_F(KvServer, dropping_the_server_closes_its_connections) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_task(wait_for_close(&ioc, at, &srv)), "NONE, then end of stream");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(stats.broken, 0u);  // the session was destroyed, not ended by an error
}

// --- the protocol's parsing ---------------------------------------------------------------

TEST(KvProtocol, parses_commands_and_says_why_a_line_is_malformed) {
  const kv::command set = kv::parse_command("SET key 42");
  EXPECT_EQ(set.what, kv::verb::set);
  EXPECT_EQ(set.key, "key");
  EXPECT_EQ(set.length, 42u);
  EXPECT_EQ(kv::parse_command("GET k\r").key, "k");
  EXPECT_EQ(kv::parse_command("DEL k").what, kv::verb::del);
  EXPECT_EQ(kv::parse_command("QUIT").what, kv::verb::quit);
  EXPECT_EQ(kv::parse_command("get k").error, "unknown command");
  EXPECT_EQ(kv::parse_command("").what, kv::verb::blank);
  EXPECT_EQ(kv::parse_command("\r").what, kv::verb::blank);
  EXPECT_EQ(kv::parse_command(" ").error, "unknown command");
  EXPECT_EQ(kv::parse_command("GET").error, "bad key");
  EXPECT_EQ(kv::parse_command("GET  k").error, "bad key");
  EXPECT_EQ(kv::parse_command("GET " + std::string(kv::max_key + 1, 'k')).error, "bad key");
  EXPECT_EQ(kv::parse_command("GET " + std::string(kv::max_key, 'k')).what, kv::verb::get);
  EXPECT_EQ(kv::parse_command("SET k -1").error, "bad length");
  EXPECT_EQ(kv::parse_command("SET k 1x").error, "bad length");
  EXPECT_EQ(kv::parse_command("SET k " + std::to_string(kv::max_value + 1)).error,
            "value too large");
  EXPECT_EQ(kv::parse_command("QUIT now").what, kv::verb::bad);
}

TEST(KvProtocol, parses_replies) {
  EXPECT_EQ(kv::parse_reply("OK").what, kv::answer::ok);
  const kv::reply v = kv::parse_reply("VALUE 12");
  EXPECT_EQ(v.what, kv::answer::value);
  EXPECT_EQ(v.length, 12u);
  EXPECT_EQ(kv::parse_reply("ERROR bad key").text, "bad key");
  EXPECT_EQ(kv::parse_reply("VALUE").what, kv::answer::bad);
  EXPECT_EQ(kv::parse_reply("OK then").what, kv::answer::bad);
}

// --- the example's load generator against the example's server ---------------------------

struct KvLoad : KvServer {
  // Runs kv::run_load on a thread of its own (as the demo does) until it reports.
  std::optional<kv::load_report> load(kv::load_options opt) {
    std::optional<kv::load_report> report;
    stakker::piped_thread<int, kv::load_report> generator(
        rt, stakker::fwd_do<kv::load_report>([&](kv::load_report r) { report = std::move(r); }),
        stakker::fwd_do<std::optional<std::string>>([&](std::optional<std::string> error) {
          EXPECT_FALSE(error.has_value()) << *error;
          rt.shutdown(stakker::stop_cause::stopped());
        }),
        [opt](stakker::piped_link<int, kv::load_report>& link) {
          link.send(kv::run_load(opt, [&link] { return link.cancelled(); }));
        });
    EXPECT_TRUE(run());
    return report;
  }
};

TEST_F(KvLoad, checks_every_value_against_the_example_server) {
  kv::load_options opt;
  opt.server = at;
  opt.clients = 10;
  opt.rounds = 20;
  opt.value_size = 3000;
  const auto report = load(opt);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->failures, std::vector<std::string>{});
  EXPECT_EQ(report->values_checked, 200u);
  const std::uint64_t requests = 10 * (2 * 20 + 4 + 1);  // SET+GET pairs, DEL of 4 keys, QUIT
  EXPECT_EQ(report->requests, requests);
  EXPECT_EQ(report->latency_ns.size(), requests);
  EXPECT_EQ(stats.requests, requests);
  EXPECT_EQ(stats.keys, 0u);
}

// A server that answers every GET with the right length but the wrong bytes, until the
// client closes.
task<void> lying_server(tcp::acceptor* acceptor) {
  tcp::socket s = co_await acceptor->async_accept(use_task);
  kv::line_reader in;
  std::string value;
  try {
    for (;;) {
      const kv::command c = kv::parse_command(co_await in.line(s));
      if (c.what == kv::verb::set) {
        value = *co_await in.value(s, c.length);
        co_await net::async_write(s, net::buffer("OK\n", 3), use_task);
      } else if (c.what == kv::verb::get) {
        const std::string reply = kv::value_line(value.size()) + std::string(value.size(), 'x');
        co_await net::async_write(s, net::buffer(reply), use_task);
      }
    }
  } catch (const stakker::asio::system_error&) {
    // The client has gone.
  }
}

TEST_F(KvLoad, reports_a_value_that_comes_back_different) {
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  asio_test::answer<void> served;
  stakker::coro::spawn(rt, lying_server(&acceptor), served.to());
  kv::load_options opt;
  opt.server = acceptor.local_endpoint();
  opt.clients = 1;
  opt.rounds = 3;
  opt.value_size = 100;
  const auto report = load(opt);
  ASSERT_TRUE(report.has_value());
  ASSERT_EQ(report->failures.size(), 1u);
  EXPECT_NE(report->failures[0].find("GET c0-0 in round 0: not the bytes SET"), std::string::npos)
      << report->failures[0];
  EXPECT_EQ(report->values_checked, 0u);
  // The lying server sees the client go, and ends.
  while (served.calls == 0 && ioc.run_one_for(5s) != 0) {
  }
  EXPECT_EQ(served.calls, 1);
}

}  // namespace
