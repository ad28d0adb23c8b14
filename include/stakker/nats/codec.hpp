// SPDX-License-Identifier: MIT OR Apache-2.0
// Typed messages: a codec turns values into payloads and back; publish_as, subscribe_as and
// request_as use one.
#pragma once

#include <concepts>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "stakker/coro/result.hpp"
#include "stakker/nats/connection.hpp"

namespace stakker::nats {

// A codec for T: `C::encode(value)` gives the payload; `C::template decode<T>(payload)`
// gives the value back or throws nats::error (a payload it cannot read).
template <class C, class T>
concept codec_for = requires(const T& v, std::string_view payload) {
  { C::encode(v) } -> std::convertible_to<std::string>;
  { C::template decode<T>(payload) } -> std::same_as<T>;
};

// Publishes `value` encoded with codec C.
template <class C, class T>
requires codec_for<C, T>
void publish_as(connection& conn, std::string_view subject, const T& value,
                const headers& hdrs = {}) {
  conn.publish(subject, C::encode(value), hdrs);
}

// Subscribes with each message decoded as T: a value, or, for a payload the codec cannot
// read, an actor_fail holding its nats::error (the subscription and the connection go on).
template <class T, class C>
requires codec_for<C, T> subscription subscribe_as(connection& conn, std::string_view subject,
                                                   fwd<coro::result<T>> to,
                                                   std::string_view queue = {}) {
  return conn.subscribe(subject, fwd_do<message>([to = std::move(to)](message m) {
                          std::optional<T> v;
                          try {
                            v.emplace(C::template decode<T>(m.data()));
                          } catch (...) {
                            to(coro::result<T>(coro::actor_fail{std::current_exception()}));
                            return;
                          }
                          to(coro::result<T>(std::move(*v)));
                        }),
                        queue);
}

// A request whose payload is `value` encoded and whose reply is decoded as Rep: answered
// once with the value, or an actor_fail (the request failed, or the reply cannot be read).
template <class Rep, class C, class Req>
requires codec_for<C, Req> && codec_for<C, Rep>
void request_as(connection& conn, std::string_view subject, const Req& value, duration timeout,
                ret<coro::result<Rep>> answer, const headers& hdrs = {}) {
  conn.request(subject, C::encode(value), timeout,
               ret_do<coro::result<message>>(
                   [answer = std::move(answer)](std::optional<coro::result<message>> r) mutable {
                     if (!r) return;  // never: a request is always answered
                     if (!r->has_value()) {
                       answer(coro::result<Rep>(r->error()));
                       return;
                     }
                     std::optional<Rep> v;
                     try {
                       v.emplace(C::template decode<Rep>((*r)->data()));
                     } catch (...) {
                       answer(coro::result<Rep>(coro::actor_fail{std::current_exception()}));
                       return;
                     }
                     answer(coro::result<Rep>(std::move(*v)));
                   }),
               hdrs);
}

}  // namespace stakker::nats
