// SPDX-License-Identifier: MIT OR Apache-2.0
// The chat server over two shards (examples/chat/sharded.hpp): the room spans them, so a
// member on either shard hears every message exactly once, each sender's in the order said,
// wherever the sender is. The server runs on the shards' threads; the clients are plain
// sockets pumped by the test's thread.
#include "chat/sharded.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chat/line_client.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::stop_cause;
using stakker::shard::shards;
using stakker_test::line_client;
using clients_t = std::vector<std::unique_ptr<line_client>>;

// Pumps every client until `done()`; false if `limit` passes first. Waits in poll(2) for
// input between rounds.
template <class Pred>
bool pump_until(const clients_t& clients, Pred done, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::vector<pollfd> fds;
  for (const auto& c : clients) fds.push_back({c->native_handle(), POLLIN, 0});
  for (;;) {
    for (const auto& c : clients) c->pump();
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    ::poll(fds.data(), fds.size(), 5);
  }
}

// Connects clients until each of the two shards holds at least `per_shard` (a connection's
// shard is its id % 2; with SO_REUSEPORT the kernel chooses it). At most 64 tries.
clients_t connect_to_both(std::uint16_t port, std::size_t per_shard) {
  clients_t clients;
  std::size_t on[2] = {0, 0};
  while ((on[0] < per_shard || on[1] < per_shard) && clients.size() < 64) {
    clients.push_back(std::make_unique<line_client>(port));
    line_client& c = *clients.back();
    EXPECT_TRUE(pump_until(clients, [&] { return c.id() != 0; })) << "no HELLO";
    if (c.id() == 0) break;
    ++on[c.id() % 2];
  }
  EXPECT_GE(on[0], per_shard);
  EXPECT_GE(on[1], per_shard);
  return clients;
}

void every_client_hears_every_sender_in_order(chat::accept_mode mode) {
  std::vector<chat::server_stats> stats;  // written by the shards until they stop: outlives g
  shards g({.threads = 2});
  const std::uint16_t port = chat::start_sharded(g, 0, chat::server_limits{}, stats, mode);
  // Every client has had its HELLO, so every one has joined its shard's replica: nothing
  // said from now on can miss a member.
  clients_t clients = connect_to_both(port, 2);
  ASSERT_FALSE(::testing::Test::HasFailure());

  // Every client says `n` numbered lines, a few at a time, all talking at once.
  constexpr int n = 300;
  const std::size_t expected = 1 + clients.size() * n;  // HELLO, then every message
  std::vector<int> said(clients.size(), 0);
  ASSERT_TRUE(pump_until(clients, [&] {
    bool all_in = true;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      for (int k = 0; k < 7 && said[i] < n; ++k)
        clients[i]->queue("SAY " + std::to_string(said[i]++) + '\n');
      all_in = all_in && clients[i]->lines().size() >= expected;
    }
    return all_in;
  }));
  // Nothing more comes: no message is delivered twice (a replica forwards only its own).
  const auto until = std::chrono::steady_clock::now() + 100ms;
  pump_until(clients, [&] { return std::chrono::steady_clock::now() > until; });

  for (const auto& c : clients) {
    ASSERT_EQ(c->lines().size(), expected) << "client " << c->id();
    // Per sender, 0, 1, 2... : the order said, for members on the sender's shard and on
    // the other one alike.
    std::map<std::uint64_t, int> next;
    for (std::size_t l = 1; l < c->lines().size(); ++l) {
      std::string_view line = c->lines()[l];
      ASSERT_TRUE(line.starts_with("FROM ")) << line;
      line.remove_prefix(5);
      const auto from = chat::take_number(line);
      const auto seq = chat::take_number(line);
      ASSERT_TRUE(from && seq) << c->lines()[l];
      ASSERT_EQ(*seq, static_cast<std::uint64_t>(next[*from]++))
          << "client " << c->id() << " (shard " << c->id() % 2 << ") from " << *from << " (shard "
          << *from % 2 << ")";
    }
    EXPECT_EQ(next.size(), clients.size());
  }

  clients.clear();
  g.stop(stop_cause::stopped());
  for (const stop_cause& s : g.join()) EXPECT_FALSE(s.has_error()) << s.text();
  // Each shard took its own clients and counted what they said; nothing was dropped.
  const chat::server_stats t = chat::total(stats);
  EXPECT_EQ(t.messages, expected - 1);
  EXPECT_EQ(t.dropped, 0u);
  EXPECT_NE(stats[0].messages, 0u);
  EXPECT_NE(stats[1].messages, 0u);
}

TEST(chat_shards, with_a_listener_per_shard_a_client_on_each_hears_every_sender_in_order) {
  every_client_hears_every_sender_in_order(chat::accept_mode::reuse_port);
}

TEST(chat_shards, with_hand_off_a_client_on_each_hears_every_sender_in_order) {
  every_client_hears_every_sender_in_order(chat::accept_mode::hand_off);
}

// Hand-off deals the connections round the shards in turn.
TEST(chat_shards, hand_off_deals_connections_to_the_shards_in_turn) {
  std::vector<chat::server_stats> stats;
  shards g({.threads = 2});
  const std::uint16_t port =
      chat::start_sharded(g, 0, chat::server_limits{}, stats, chat::accept_mode::hand_off);
  clients_t clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<line_client>(port));
    line_client& c = *clients.back();
    ASSERT_TRUE(pump_until(clients, [&] { return c.id() != 0; }));
    EXPECT_EQ(c.id() % 2, static_cast<std::uint64_t>(i % 2)) << "client " << i;
  }
  clients.clear();
  g.stop(stop_cause::stopped());
  g.join();
  EXPECT_EQ(stats[0].connections, 2u);
  EXPECT_EQ(stats[1].connections, 2u);
}

// The slot of a connection handed off stays with shard 0's listener until the connection
// ends on the other shard: max_connections counts the connections of every shard.
TEST(chat_shards, with_hand_off_max_connections_counts_every_shards_connections) {
  std::vector<chat::server_stats> stats;
  shards g({.threads = 2});
  chat::server_limits limits;
  limits.max_connections = 2;
  const std::uint16_t port = chat::start_sharded(g, 0, limits, stats, chat::accept_mode::hand_off);
  clients_t clients;
  for (int i = 0; i < 2; ++i) {
    clients.push_back(std::make_unique<line_client>(port));
    ASSERT_TRUE(pump_until(clients, [&] { return clients.back()->id() != 0; }));
  }
  ASSERT_EQ(clients[1]->id() % 2, 1u);                     // on shard 1
  clients.push_back(std::make_unique<line_client>(port));  // waits in the backlog
  const auto until = std::chrono::steady_clock::now() + 300ms;
  pump_until(clients, [&] { return std::chrono::steady_clock::now() > until; });
  EXPECT_EQ(clients[2]->received_bytes(), 0u);
  // The client on shard 1 leaves: its slot comes back to shard 0, which takes the third.
  clients[1]->shutdown_write();
  ASSERT_TRUE(pump_until(clients, [&] { return clients[2]->id() != 0; }));
  clients.clear();
  g.stop(stop_cause::stopped());
  g.join();
  EXPECT_EQ(chat::total(stats).connections, 3u);
}

// A listener that is not in the SO_REUSEPORT group holds the port: shard 0's server fails
// to bind, its failure stops every shard, and the start throws.
TEST(chat_shards, a_port_held_by_another_listener_fails_the_start_and_stops_every_shard) {
  stakker::loop::unique_fd holder(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const auto any = stakker::loop::socket_address::loopback_v4(0);
  ASSERT_EQ(::bind(holder.get(), any.native(), any.native_size()), 0);
  ASSERT_EQ(::listen(holder.get(), 1), 0);
  sockaddr_in at{};
  socklen_t len = sizeof at;
  ASSERT_EQ(::getsockname(holder.get(), reinterpret_cast<sockaddr*>(&at), &len), 0);

  std::vector<chat::server_stats> stats;
  shards g({.threads = 2});
  EXPECT_THROW(chat::start_sharded(g, ntohs(at.sin_port), chat::server_limits{}, stats),
               std::runtime_error);
  for (const stop_cause& s : g.join()) EXPECT_TRUE(s.has_error()) << s.text();
}

}  // namespace
