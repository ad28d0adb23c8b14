// SPDX-License-Identifier: MIT OR Apache-2.0
// The key-value demo's load generator: client actors on a runtime and io_loop of their own,
// meant to run on a thread of their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "line_reader.hpp"
#include "protocol.hpp"
#include "stakker/asio/asio.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/stakker.hpp"

namespace kv {

struct load_options {
  net::ip::tcp::endpoint server;
  int clients = 100;
  int rounds = 300;  // per client: a SET, then a GET that must give back what was SET
  std::size_t value_size = 1024;
  int keys = 4;  // each client's own keys, used in turn
};

struct load_report {
  double seconds = 0;                    // from the first connect to the last close
  std::vector<std::int64_t> latency_ns;  // one per request: written to reply read
  std::uint64_t requests = 0;            // answered (SET, GET, DEL, QUIT)
  std::uint64_t values_checked = 0;      // GET replies equal, byte for byte, to the SET
  std::vector<std::string> failures;     // one per client that did not finish cleanly
};

// One client connection. Its task, tied to the actor, connects and makes `rounds` rounds,
// each a SET of fresh pseudo-random bytes under one of its keys and a GET of that key,
// strictly one request at a time, checking every reply (a GET must give back exactly the
// bytes of the SET before it). Then it deletes its keys, sends QUIT, and expects BYE and
// the end of the stream. Everything runs on the client runtime's thread: the task resumes
// from its queue after each Asio operation (use_task).
class load_client {
 public:
  static load_client init(stakker::cx<load_client>& x, const load_options* opt, load_report* report,
                          int index);

  // The task's answer: empty if every reply was right, else what went wrong (also when the
  // connection failed). Stops the actor: with `failed` if something went wrong.
  void ended(stakker::cx<load_client>& x, std::optional<std::string> problem);

 private:
  load_client(net::ip::tcp::socket socket, const load_options* opt, load_report* report, int index)
      : socket_(std::move(socket)), opt_(opt), report_(report), index_(index) {}

  void start(stakker::cx<load_client>& x);
  stakker::coro::task<std::string> run();
  // Writes `request` (then `*value`, if given) and reads the reply's line.
  stakker::coro::task<reply> ask(std::string request, const std::string* value);
  void record_latency(stakker::instant sent);

  net::ip::tcp::socket socket_;
  line_reader in_;
  const load_options* opt_;
  load_report* report_;
  int index_;
};

// Deterministic pseudo-random bytes: the value of round `round` of client `client`.
void fill_value(std::string& out, std::size_t size, int client, int round);

// Runs every client on this thread (a runtime driven by an io_loop on an io_context of its
// own) until all have finished or `cancelled()` says so (it is polled every 100 ms).
load_report run_load(const load_options& opt, const std::function<bool()>& cancelled);

}  // namespace kv
