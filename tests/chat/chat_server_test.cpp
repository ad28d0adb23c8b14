// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat demo's server under hostile clients: each limit of chat::server_limits (and the
// protocol's max_line) cuts off the client that breaks it, and no other.
#include "chat/server.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/line_client.hpp"
#include "loop/net_support.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::actor_own;
using stakker::inspect;
using stakker::make_actor;
using stakker::ret_do;
using stakker::stop_cause;
using stakker::loop::socket_address;
using stakker_test::line_client;

// Limits small enough for fast tests; each test shortens the one it checks.
chat::server_limits small_limits() {
  chat::server_limits l;
  l.max_connections = 100;
  l.max_output = 256 << 10;
  l.total_output = 64 << 20;
  l.total_input = 1 << 20;
  l.idle_timeout = 10s;
  l.line_timeout = 10s;
  l.closing_timeout = 10s;
  return l;
}

class chat_server : public stakker_test::loop_fixture {
 protected:
  void start(const chat::server_limits& limits) {
    server_ =
        make_actor<&chat::server::init>(rt, ret_do<stop_cause>([this](std::optional<stop_cause> c) {
                                          server_ended_ = c ? c->text() : "(none)";
                                        }),
                                        socket_address::loopback_v4(0), limits, &stats_);
    settle();
    ASSERT_TRUE(server_ended_.empty()) << server_ended_;
    port_ = *inspect(rt, server_, [](chat::server& s) { return s.port(); });
  }
  // The server's actors and sockets go before the loop does.
  void TearDown() override {
    server_.reset();
    settle();
  }

  std::size_t connections() {
    return *inspect(rt, server_, [](chat::server& s) { return s.connections(); });
  }
  std::size_t output_used() {
    return *inspect(rt, server_,
                    [](chat::server& s) { return s.stream_options().output_budget->used(); });
  }
  std::size_t input_used() {
    return *inspect(rt, server_,
                    [](chat::server& s) { return s.stream_options().input_budget->used(); });
  }

  // Turns the loop, pumping the clients, until `done()`. What `done` queues is sent before
  // the next turn, which would otherwise sleep for lack of anything to do.
  template <class Pred>
  bool drive_clients(std::vector<line_client*> clients, Pred done, stakker::duration limit = 20s) {
    return drive(
        [&] {
          for (line_client* c : clients) c->pump();
          const bool finished = done();
          for (line_client* c : clients) c->pump(false);
          return finished;
        },
        limit);
  }
  bool all_greeted(std::vector<line_client*> clients) {
    return drive_clients(clients, [&] {
      for (line_client* c : clients)
        if (c->id() == 0) return false;
      return true;
    });
  }

  chat::server_stats stats_;
  std::string server_ended_;
  actor_own<chat::server> server_;
  std::uint16_t port_ = 0;
};

using clock_type = std::chrono::steady_clock;

// --- max_line ----------------------------------------------------------------------------

TEST_F(chat_server, a_complete_line_longer_than_max_line_is_rejected_and_not_broadcast) {
  start(small_limits());
  line_client talker(port_), other(port_);
  ASSERT_TRUE(all_greeted({&talker, &other}));
  // One send: the server reads the good line and the long one in the same read.
  talker.queue("SAY before\nSAY " + std::string(chat::max_line, 'x') + "\n");
  ASSERT_TRUE(drive_clients({&talker, &other}, [&] { return talker.closed(); }));
  ASSERT_FALSE(talker.lines().empty());
  EXPECT_EQ(talker.lines().back(), "ERROR line too long");

  // The other client hears the good line, then the next message said: nothing between.
  line_client marker(port_);
  ASSERT_TRUE(all_greeted({&marker}));
  marker.queue("SAY marker\n");
  ASSERT_TRUE(drive_clients({&other, &marker}, [&] { return other.lines().size() == 3; }));
  EXPECT_EQ(other.lines()[1], talker.from_prefix() + "before");
  EXPECT_EQ(other.lines()[2], marker.from_prefix() + "marker");
  settle();
  other.pump();
  EXPECT_EQ(other.lines().size(), 3u);
}

TEST_F(chat_server, a_line_of_exactly_max_line_bytes_newline_included_is_broadcast) {
  start(small_limits());
  line_client talker(port_), other(port_);
  ASSERT_TRUE(all_greeted({&talker, &other}));
  const std::string text(chat::max_line - 5, 'y');  // "SAY " + text + '\n' = max_line
  talker.queue("SAY " + text);
  talker.pump();
  settle();  // the unterminated max_line - 1 bytes are held, not rejected
  talker.queue("\n");
  ASSERT_TRUE(drive_clients({&talker, &other}, [&] { return other.lines().size() == 2; }));
  EXPECT_EQ(other.lines()[1], talker.from_prefix() + text);
  EXPECT_FALSE(talker.closed());
}

TEST_F(chat_server, an_unterminated_line_reaching_max_line_is_rejected) {
  start(small_limits());  // line timeout 10 s: only the length can end it in time
  line_client talker(port_), other(port_);
  ASSERT_TRUE(all_greeted({&talker, &other}));
  talker.queue("SAY " + std::string(chat::max_line - 4, 'z'));  // max_line bytes, no '\n'
  ASSERT_TRUE(drive_clients(
      {&talker, &other}, [&] { return talker.closed(); }, 5s));
  ASSERT_FALSE(talker.lines().empty());
  EXPECT_EQ(talker.lines().back(), "ERROR line too long");
  EXPECT_EQ(other.lines().size(), 1u);  // HELLO only
  EXPECT_EQ(input_used(), 0u);
}

// --- max_output and the output budget -----------------------------------------------------

TEST_F(chat_server, a_client_that_never_reads_is_cut_off_past_max_output_and_the_rest_get_all) {
  chat::server_limits limits = small_limits();
  limits.max_output = 256 << 10;
  start(limits);
  line_client talker(port_), reader(port_);
  line_client sink(port_, 4096);  // never reads
  ASSERT_TRUE(all_greeted({&talker, &reader}));
  ASSERT_TRUE(drive([&] { return connections() == 3; }));

  // The talker keeps 8 lines of 3000 bytes in flight until the sink is cut off, then says
  // 10 more. Every line must reach the talker and the reader, in order.
  const std::string pad(3000, 'p');
  int said = 0, stop_at = -1;
  std::size_t peak = 0;
  auto own_echoes = [&] {
    int n = 0;
    for (const std::string& l : talker.lines()) n += l.starts_with(talker.from_prefix());
    return n;
  };
  ASSERT_TRUE(drive_clients(
      {&talker, &reader},
      [&] {
        peak = std::max(peak, output_used());
        if (stop_at < 0 && stats_.dropped != 0) stop_at = said + 10;
        while (said - own_echoes() < 8 && (stop_at < 0 || said < stop_at) && said < 20'000)
          talker.queue("SAY " + std::to_string(said++) + ' ' + pad + '\n');
        return stop_at >= 0 && own_echoes() == stop_at &&
               static_cast<int>(reader.lines().size()) == stop_at + 1;
      },
      60s));
  EXPECT_EQ(stats_.dropped, 1u);
  EXPECT_GE(peak, limits.max_output / 2);  // the sink's backlog was counted while it grew
  for (int i = 0; i < stop_at; ++i)
    ASSERT_EQ(reader.lines()[static_cast<std::size_t>(i) + 1],
              talker.from_prefix() + std::to_string(i) + ' ' + pad);
  // The sink's connection and its buffered output are gone.
  settle();
  EXPECT_EQ(connections(), 2u);
  EXPECT_EQ(output_used(), 0u);
  EXPECT_FALSE(talker.closed());
  EXPECT_FALSE(reader.closed());
}

// --- timeouts ----------------------------------------------------------------------------

TEST_F(chat_server, a_slowloris_client_is_disconnected_after_the_line_timeout) {
  chat::server_limits limits = small_limits();
  limits.line_timeout = 300ms;
  start(limits);
  line_client slow(port_);
  ASSERT_TRUE(all_greeted({&slow}));
  // One byte every 50 ms: never idle, never a whole line.
  const std::string trickle = "SAY abc" + std::string(100, 'd');
  const auto begun = clock_type::now();
  std::size_t sent = 0;
  auto next = begun;
  ASSERT_TRUE(drive_clients(
      {&slow},
      [&] {
        if (clock_type::now() >= next && sent < trickle.size()) {
          slow.queue(trickle.substr(sent++, 1));
          next += 50ms;
        }
        return slow.closed();
      },
      4s));
  EXPECT_GE(clock_type::now() - begun, 300ms);
  EXPECT_EQ(stats_.dropped, 1u);
}

TEST_F(chat_server, an_idle_client_is_disconnected_after_the_idle_timeout) {
  chat::server_limits limits = small_limits();
  limits.idle_timeout = 300ms;
  start(limits);
  const auto begun = clock_type::now();
  line_client idle(port_);
  ASSERT_TRUE(all_greeted({&idle}));
  ASSERT_TRUE(drive_clients(
      {&idle}, [&] { return idle.closed(); }, 4s));
  EXPECT_GE(clock_type::now() - begun, 300ms);
  EXPECT_EQ(connections(), 0u);
}

TEST_F(chat_server, a_client_cut_off_by_a_timeout_leaves_the_room) {
  chat::server_limits limits = small_limits();
  limits.idle_timeout = 300ms;
  start(limits);
  line_client idle(port_);
  ASSERT_TRUE(all_greeted({&idle}));
  EXPECT_EQ(stats_.members, 1u);
  ASSERT_TRUE(drive_clients(
      {&idle}, [&] { return idle.closed(); }, 4s));
  settle();
  EXPECT_EQ(stats_.members, 0u);
}

// Idle means nothing received and nothing sent: the room's messages keep a lurker.
TEST_F(chat_server, a_client_that_only_receives_the_rooms_messages_is_not_idle) {
  chat::server_limits limits = small_limits();
  limits.idle_timeout = 300ms;
  start(limits);
  line_client lurker(port_), active(port_);
  ASSERT_TRUE(all_greeted({&lurker, &active}));
  auto next = clock_type::now();
  const auto until = next + 1s;
  drive_clients({&lurker, &active}, [&] {
    if (clock_type::now() >= next) {
      active.queue("SAY ping\n");
      next += 100ms;
    }
    return clock_type::now() >= until;
  });
  EXPECT_FALSE(lurker.closed());
  EXPECT_FALSE(active.closed());
  EXPECT_EQ(connections(), 2u);
  // Once the talk stops, both go idle.
  ASSERT_TRUE(drive_clients(
      {&lurker, &active}, [&] { return lurker.closed() && active.closed(); }, 4s));
}

TEST_F(chat_server,
       a_client_that_half_closes_and_never_reads_is_dropped_after_the_closing_timeout) {
  chat::server_limits limits = small_limits();
  limits.max_output = 8 << 20;
  limits.closing_timeout = 300ms;
  start(limits);
  line_client talker(port_);
  line_client sink(port_, 4096);  // never reads
  ASSERT_TRUE(all_greeted({&talker}));
  ASSERT_TRUE(drive([&] { return connections() == 2; }));
  // Fill the kernel's buffers towards the sink until the server holds output for it, more
  // than the kernel takes when the sink's end-of-stream grows the send buffer (~35 KB).
  const std::string pad(3000, 'q');
  int said = 0;
  auto own_echoes = [&] {
    int n = 0;
    for (const std::string& l : talker.lines()) n += l.starts_with(talker.from_prefix());
    return n;
  };
  ASSERT_TRUE(drive_clients({&talker}, [&] {
    if (said == own_echoes()) {
      if (output_used() >= (1u << 20)) return true;  // the talker's echo is read: the sink's
      talker.queue("SAY " + pad + '\n');
      ++said;
    }
    return false;
  }));
  sink.shutdown_write();
  const auto begun = clock_type::now();
  ASSERT_TRUE(drive_clients(
      {&talker}, [&] { return connections() == 1; }, 4s));
  EXPECT_GE(clock_type::now() - begun, 300ms);
  EXPECT_EQ(output_used(), 0u);
  EXPECT_EQ(stats_.dropped, 1u);
}

// --- max_connections and accept errors ----------------------------------------------------

TEST_F(chat_server, at_max_connections_further_clients_wait_and_are_served_once_one_leaves) {
  chat::server_limits limits = small_limits();
  limits.max_connections = 2;
  start(limits);
  line_client first(port_), second(port_);
  ASSERT_TRUE(all_greeted({&first, &second}));
  line_client third(port_);  // connected, in the backlog
  const auto until = clock_type::now() + 300ms;
  drive_clients({&first, &second, &third}, [&] { return clock_type::now() >= until; });
  EXPECT_EQ(third.received_bytes(), 0u);
  EXPECT_EQ(stats_.connections, 2u);

  first.shutdown_write();  // leaves: the server closes, its slot is released
  ASSERT_TRUE(all_greeted({&first, &second, &third}));
  EXPECT_EQ(stats_.connections, 3u);
  third.queue("SAY in\n");
  ASSERT_TRUE(drive_clients({&second, &third}, [&] { return second.lines().size() == 2; }));
  EXPECT_EQ(second.lines()[1], third.from_prefix() + "in");
}

TEST_F(chat_server, accept_failing_with_emfile_does_not_stall_the_server_once_descriptors_free) {
  SKIP_WITHOUT_SPARE_DESCRIPTORS();
  start(small_limits());
  // Three clients wait in the backlog before the server turns.
  line_client a(port_), b(port_), c(port_);
  stakker_test::descriptor_shortage exhausted;
  ASSERT_TRUE(exhausted.ok());
  ASSERT_TRUE(drive([&] { return stats_.accept_errors >= 2; }, 5s));  // retried
  EXPECT_EQ(stats_.connections, 0u);
  // Descriptors free; no client connects: the listener's own retry must find the three.
  exhausted.end();
  ASSERT_TRUE(all_greeted({&a, &b, &c}));
  EXPECT_EQ(stats_.connections, 3u);
}

}  // namespace
