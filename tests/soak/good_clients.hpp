// SPDX-License-Identifier: MIT OR Apache-2.0
// The soak's good clients: they say lines at a steady rate, read everything, and now and
// then leave the room and join again (a new connection, a new id). Each checks that it
// receives, in order and without a gap, every line said by every good client while both
// were members. All of them on one thread, with poll(), so one event counter orders them.
//
// While both were members, precisely: a line from S must reach R if S sent it after R had
// its HELLO (R's join was queued before its HELLO was written, and S's line is read after)
// and S read it back before R half-closed (the room then sent that batch to R, still a
// member). Lines outside that window may arrive or not, but still in order.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "chat/protocol.hpp"
#include "soak_sockets.hpp"

namespace soak {

struct good_report {
  std::uint64_t said = 0;      // lines said by all good clients
  std::uint64_t received = 0;  // good lines received, all good clients
  std::uint64_t required = 0;  // of which a membership window required
  std::uint64_t rejoins = 0;   // connections after the first, all clients
  std::vector<std::string> failures;
};

struct good_options {
  std::uint16_t port = 0;
  int clients = 6;
  int rate = 40;   // lines per second per client
  int window = 4;  // own lines in flight per client
  std::uint64_t seed = 0;
  std::chrono::steady_clock::time_point until;  // stop saying then, and drain
};

class good_clients {
 public:
  explicit good_clients(const good_options& o) : o_(o), rng_(o.seed) {}

  good_report run() {
    using clock = std::chrono::steady_clock;
    for (int i = 0; i < o_.clients; ++i) {
      seats_.emplace_back(i);
      join(seats_.back());
    }
    const auto start = clock::now();
    while (report_.failures.empty() && clock::now() < o_.until) {
      const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
      for (seat& s : seats_) step(s, elapsed);
      pump(5);
    }
    // Drain: every line in flight comes back, then everyone leaves.
    pump_until(
        [&] {
          for (const seat& s : seats_)
            if (s.fd >= 0 && !s.leaving && (s.id == 0 || s.acked != s.said)) return false;
          return true;
        },
        std::chrono::seconds(30), "the last lines");
    for (seat& s : seats_)
      if (s.fd >= 0 && !s.leaving) leave(s);
    pump_until(
        [&] {
          for (const seat& s : seats_)
            if (s.fd >= 0) return false;
          return true;
        },
        std::chrono::seconds(10), "the server's end-of-stream");
    return report_;
  }

 private:
  static constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

  // One connection's life, kept for the checks after it ended.
  struct incarnation {
    std::uint64_t hello = never, half_closed = never;         // event counter values
    std::vector<std::uint64_t> sent, echoed;                  // per own line
    std::map<std::uint64_t, std::vector<std::uint64_t>> got;  // sender id -> seqs, in order
  };
  // One client, connection after connection.
  struct seat {
    explicit seat(int i) : index(i) {}
    int index;
    int fd = -1;
    std::uint64_t id = 0;  // of the current connection, 0 until its HELLO
    std::uint64_t said = 0, acked = 0;
    bool leaving = false;
    std::chrono::steady_clock::time_point leave_at;
    std::string in, out;
  };

  incarnation* incarnation_of(const seat& s) { return s.id == 0 ? nullptr : &incarnations_[s.id]; }
  void fail(const seat& s, const std::string& why) {
    report_.failures.push_back("good client " + std::to_string(s.index) + " (id " +
                               std::to_string(s.id) + "): " + why);
  }

  void join(seat& s) {
    s.fd = connect_nonblocking(o_.port);
    if (s.fd < 0) return fail(s, "no socket");
    s.id = s.said = s.acked = 0;
    s.leaving = false;
    s.in.clear();
    s.out.clear();
    s.leave_at = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(std::uniform_int_distribution<int>(3000, 30000)(rng_));
  }
  void leave(seat& s) {
    s.leaving = true;
    ::shutdown(s.fd, SHUT_WR);
    if (incarnation* me = incarnation_of(s)) me->half_closed = ++tick_;
  }

  // Says the next line if the rate and the window allow; leaves when it is time.
  void step(seat& s, double elapsed) {
    if (s.fd < 0) {
      ++report_.rejoins;
      return join(s);
    }
    if (s.leaving || s.id == 0) return;
    if (std::chrono::steady_clock::now() >= s.leave_at) return leave(s);
    if (s.said - s.acked >= static_cast<std::uint64_t>(o_.window)) return;
    if (static_cast<double>(total_said_) >= elapsed * o_.rate * o_.clients + 1) return;
    // "SAY G <seq> <padding of 0..200 bytes>"
    const std::size_t pad = std::uniform_int_distribution<std::size_t>(0, 200)(rng_);
    s.out += "SAY G " + std::to_string(s.said++) + ' ' +
             std::string(pad, static_cast<char>('a' + s.index)) + '\n';
    incarnation& me = *incarnation_of(s);
    me.sent.push_back(++tick_);
    me.echoed.push_back(never);
    ++total_said_;
    ++report_.said;
  }

  void handle(seat& s, std::string_view line) {
    if (line.starts_with("HELLO ")) {
      line.remove_prefix(6);
      s.id = chat::take_number(line).value_or(0);
      if (s.id == 0 || incarnations_.count(s.id) != 0) return fail(s, "bad HELLO");
      incarnation& me = incarnations_[s.id];
      me.hello = ++tick_;
      if (s.leaving) me.half_closed = me.hello;  // left before it joined: an empty window
      return;
    }
    if (line.starts_with("ERROR ")) return fail(s, "server said: " + std::string(line));
    if (!line.starts_with("FROM ")) return fail(s, "unexpected line: " + std::string(line));
    line.remove_prefix(5);
    const auto from = chat::take_number(line);
    if (!from || !line.starts_with("G ")) return;  // a hostile client's line
    line.remove_prefix(2);
    const auto seq = chat::take_number(line);
    incarnation* me = incarnation_of(s);
    if (!seq || me == nullptr) return fail(s, "bad good line");
    std::vector<std::uint64_t>& got = me->got[*from];
    if (!got.empty() && *seq <= got.back())
      return fail(s, "from " + std::to_string(*from) + ": line " + std::to_string(*seq) +
                         " after line " + std::to_string(got.back()));
    got.push_back(*seq);
    ++report_.received;
    if (*from == s.id) {
      if (*seq != s.acked || s.acked >= me->echoed.size())
        return fail(s, "own line " + std::to_string(*seq) + " out of order");
      me->echoed[s.acked++] = ++tick_;
    }
  }

  // After R's end: every line of every good sender inside R's window must be in R's list.
  void check(const seat& s) {
    const incarnation& r = incarnations_[s.id];
    for (const auto& [sender, from] : incarnations_) {
      // The window is a range of the sender's lines: sent and echoed in order.
      std::uint64_t first = 0, last = 0;  // [first, last)
      while (first < from.sent.size() && from.sent[first] < r.hello) ++first;
      last = first;
      while (last < from.echoed.size() && from.echoed[last] < r.half_closed) ++last;
      if (first >= last) continue;
      report_.required += last - first;
      const auto it = r.got.find(sender);
      std::uint64_t present = 0;
      if (it != r.got.end())
        for (std::uint64_t seq : it->second) present += seq >= first && seq < last;
      if (present != last - first)
        fail(s, "from id " + std::to_string(sender) + ": " + std::to_string(present) + " of " +
                    "lines " + std::to_string(first) + ".." + std::to_string(last - 1));
    }
  }

  // One poll round (at most `ms`): send what is queued, read and handle what came.
  void pump(int ms) {
    std::vector<pollfd> fds;
    for (const seat& s : seats_)
      fds.push_back(pollfd{s.fd, static_cast<short>(POLLIN | (s.out.empty() ? 0 : POLLOUT)), 0});
    ::poll(fds.data(), fds.size(), ms);
    for (seat& s : seats_) {
      if (s.fd < 0) continue;
      if (send_some(s.fd, s.out) == io::closed) s.out.clear();
      const io r = recv_all(s.fd, s.in);
      const std::size_t used = chat::for_each_line(s.in, [&](std::string_view line) {
        handle(s, line);
        return true;
      });
      s.in.erase(0, used);
      if (r != io::closed) continue;
      if (!s.leaving) fail(s, "disconnected by the server");
      if (s.id != 0) check(s);
      ::close(s.fd);
      s.fd = -1;
    }
  }

  template <class P>
  void pump_until(P done, std::chrono::steady_clock::duration limit, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        report_.failures.push_back(std::string("good clients: timed out waiting for ") + what);
        return;
      }
      pump(10);
    }
  }

  good_options o_;
  std::mt19937_64 rng_;
  std::vector<seat> seats_;
  std::map<std::uint64_t, incarnation> incarnations_;  // by server id
  std::uint64_t tick_ = 0;                             // orders every event above
  std::uint64_t total_said_ = 0;
  good_report report_;
};

}  // namespace soak
