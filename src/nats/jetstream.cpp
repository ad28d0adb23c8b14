// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/nats/jetstream.hpp"

#include <charconv>
#include <chrono>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace stakker::nats::js {

namespace {

using json = nlohmann::json;

coro::actor_fail fail_with(natsStatus s, const std::string& text) {
  return coro::actor_fail{std::make_exception_ptr(error(s, "stakker::nats::js: " + text))};
}

std::int64_t nanos(duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// JetStream's API names streams and consumers in subjects: no dots, wildcards or spaces.
void check_name(std::string_view name, const char* what) {
  bool ok = !name.empty();
  for (char ch : name) {
    auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7f || ch == '.' || ch == '*' || ch == '>') ok = false;
  }
  if (!ok)
    throw error(NATS_INVALID_ARG, std::string("stakker::nats::js: invalid ") + what + " name '" +
                                      std::string(name) + "'");
}

// An API request: its reply is JSON, an error object or what `ok` makes of it.
template <class T, class F>
void api(connection& conn, const std::string& subject, const std::string& body, duration timeout,
         ret<coro::result<T>> done, F ok, const headers& hdrs = {}) {
  conn.request(
      subject, body, timeout,
      ret_do<coro::result<message>>([done = std::move(done), ok = std::move(ok),
                                     subject](std::optional<coro::result<message>> r) mutable {
        if (!r) return;
        if (!r->has_value()) {
          natsStatus status = NATS_ERR;
          try {
            std::rethrow_exception(r->error().exception);
          } catch (const error& x) {
            status = x.status();
          } catch (...) {
          }
          if (status == NATS_NO_RESPONDERS)
            done(fail_with(NATS_NO_RESPONDERS,
                           "nobody answers '" + subject +
                               "' (JetStream not enabled, or no stream takes the subject)"));
          else
            done(coro::result<T>(r->error()));
          return;
        }
        json j = json::parse((*r)->data(), nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
          done(fail_with(NATS_PROTOCOL_ERROR, "'" + subject +
                                                  "' answered with something not JSON: " +
                                                  std::string((*r)->data().substr(0, 80))));
          return;
        }
        if (auto it = j.find("error"); it != j.end() && it->is_object()) {
          std::string text = it->value("description", std::string("unknown error"));
          text += " (code " + std::to_string(it->value("code", 0)) + ", err_code " +
                  std::to_string(it->value("err_code", 0)) + ")";
          done(fail_with(NATS_ERR, subject + ": " + text));
          return;
        }
        done(ok(j));
      }),
      hdrs);
}

}  // namespace

void add_stream(connection& conn, const stream_config& cfg, ret<coro::result<void>> done,
                duration timeout) {
  check_name(cfg.name, "stream");
  json body = {{"name", cfg.name},
               {"subjects", cfg.subjects},
               {"storage", cfg.memory_storage ? "memory" : "file"},
               {"retention", "limits"},
               {"discard", "old"},
               {"max_msgs", cfg.max_msgs},
               {"max_bytes", cfg.max_bytes},
               {"num_replicas", 1}};
  api<void>(conn, "$JS.API.STREAM.CREATE." + cfg.name, body.dump(), timeout, std::move(done),
            [](const json&) { return coro::result<void>(); });
}

void delete_stream(connection& conn, std::string_view name, ret<coro::result<void>> done,
                   duration timeout) {
  check_name(name, "stream");
  api<void>(conn, "$JS.API.STREAM.DELETE." + std::string(name), "", timeout, std::move(done),
            [](const json&) { return coro::result<void>(); });
}

void add_consumer(connection& conn, std::string_view stream, const consumer_config& cfg,
                  ret<coro::result<void>> done, duration timeout) {
  check_name(stream, "stream");
  check_name(cfg.durable, "consumer");
  json config = {{"durable_name", cfg.durable},
                 {"ack_policy", "explicit"},
                 {"deliver_policy", "all"},
                 {"ack_wait", nanos(cfg.ack_wait)},
                 {"max_deliver", cfg.max_deliver}};
  if (!cfg.filter_subject.empty()) config["filter_subject"] = cfg.filter_subject;
  json body = {{"stream_name", stream}, {"config", config}};
  api<void>(conn, "$JS.API.CONSUMER.DURABLE.CREATE." + std::string(stream) + "." + cfg.durable,
            body.dump(), timeout, std::move(done),
            [](const json&) { return coro::result<void>(); });
}

void publish(connection& conn, std::string_view subject, std::string_view data,
             ret<coro::result<pub_ack>> ack, const headers& hdrs, duration timeout) {
  api<pub_ack>(
      conn, std::string(subject), std::string(data), timeout, std::move(ack),
      [](const json& j) {
        pub_ack a;
        a.stream = j.value("stream", std::string());
        a.seq = j.value("seq", std::uint64_t{0});
        a.duplicate = j.value("duplicate", false);
        return coro::result<pub_ack>(std::move(a));
      },
      hdrs);
}

// --- messages ----------------------------------------------------------------------------

namespace {
// "$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>"
// (older servers), or with a domain and account hash in front of the stream (newer): the
// last six tokens are the same in both.
bool parse_ack_subject(std::string_view s, std::uint64_t& delivered, std::uint64_t& sseq,
                       std::uint64_t& cseq) {
  if (s.substr(0, 8) != "$JS.ACK.") return false;
  std::vector<std::string_view> toks;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    toks.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
  if (toks.size() < 9) return false;
  auto num = [](std::string_view t, std::uint64_t& v) {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return ec == std::errc() && p == t.data() + t.size();
  };
  std::size_t n = toks.size();
  return num(toks[n - 5], delivered) && num(toks[n - 4], sseq) && num(toks[n - 3], cseq);
}
}  // namespace

js_message::js_message(message m, std::weak_ptr<connection> conn)
    : m_(std::move(m)), conn_(std::move(conn)) {
  parse_ack_subject(m_.reply(), delivered_, stream_seq_, consumer_seq_);
}

void js_message::reply(std::string_view what, bool final) {
  if (answered_) return;
  auto c = conn_.lock();
  if (!c || m_.reply().empty() || c->is_closed()) return;
  c->publish(m_.reply(), what);
  answered_ = final;
}

void js_message::ack() { reply("+ACK", true); }
void js_message::nak() { reply("-NAK", true); }
void js_message::term() { reply("+TERM", true); }
void js_message::in_progress() { reply("+WPI", false); }

// --- the pull consumer -------------------------------------------------------------------

struct pull_state {
  std::weak_ptr<connection> conn;
  std::string next_subject;  // $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>
  std::string inbox;
  int batch;
  duration expires;
  fwd<std::optional<js_message>> to;
  subscription sub;
  bool fetching = false;
  int delivered_in_fetch = 0;
  bool wanted = false;  // the reader asked (more) and this fetch has given it nothing yet
  std::uint64_t fetches = 0;
  std::weak_ptr<pull_state> self;

  void fetch() {
    auto c = conn.lock();
    if (!c || c->is_closed() || fetching) return;
    json body = {{"batch", batch}, {"expires", nanos(expires)}};
    try {
      c->publish(next_subject, body.dump(), {}, inbox);
    } catch (const error&) {
      return;  // not connected: the next `more` tries again
    }
    fetching = true;
    delivered_in_fetch = 0;
    const std::uint64_t number = ++fetches;
    // A fetch the server lost (it restarted, the connection was lost meanwhile) ends with
    // no status: past its expiry, and a second more, it counts as over, and a reader still
    // waiting gets a new one.
    c->runtime_core().after(expires + std::chrono::seconds(1), [w = self, number](core&) {
      auto s = w.lock();
      if (!s || s->fetches != number || !s->fetching) return;
      s->fetching = false;
      if (s->wanted) s->fetch();
    });
  }

  void on_message(message m) {
    if (auto status = m.header("Status")) {
      // 404 no messages, 408 the fetch expired, 409 the consumer changed: the fetch is over.
      // If the reader waits (it found the stream empty meanwhile), ask again: it will not.
      fetching = false;
      if (wanted) fetch();
      return;
    }
    wanted = false;
    ++delivered_in_fetch;
    if (delivered_in_fetch >= batch) fetching = false;
    to(js_message(std::move(m), conn));
  }
};

pull_stream pull(connection& conn, std::string_view stream, std::string_view durable, int batch,
                 duration expires) {
  check_name(stream, "stream");
  check_name(durable, "consumer");
  if (batch < 1) throw error(NATS_INVALID_ARG, "stakker::nats::js::pull: batch must be >= 1");
  auto st = std::make_shared<pull_state>();
  st->self = st;
  st->conn = conn.weak_from_this();
  st->next_subject =
      "$JS.API.CONSUMER.MSG.NEXT." + std::string(stream) + "." + std::string(durable);
  st->inbox = connection::new_inbox();
  st->batch = batch;
  st->expires = expires;
  std::weak_ptr<pull_state> w = st;
  auto [reader, f] = coro::fwd_stream<js_message>(conn.runtime_core(), fwd_do<>([w] {
                                                    if (auto s = w.lock()) {
                                                      s->wanted = true;
                                                      s->fetch();
                                                    }
                                                  }));
  st->to = std::move(f);
  // Deliveries happen only while the subscription, which the state owns, exists.
  pull_state* raw = st.get();
  st->sub = conn.subscribe(st->inbox,
                           fwd_do<message>([raw](message m) { raw->on_message(std::move(m)); }));
  return pull_stream(std::move(reader), std::move(st));
}

std::uint64_t pull_stream::fetches() const noexcept { return state_ ? state_->fetches : 0; }

}  // namespace stakker::nats::js
