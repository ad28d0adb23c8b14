// SPDX-License-Identifier: MIT OR Apache-2.0
// Why an actor (or a runtime) stopped: a value delivered once to whoever asked.
#pragma once

#include <cstdint>
#include <exception>
#include <iosfwd>
#include <string>
#include <string_view>

#include "stakker/export.hpp"

namespace stakker {

enum class stop_kind : std::uint8_t {
  stopped,  // the actor called cx.stop()
  failed,   // cx.fail(...) or an exception escaped one of its members
  killed,   // actor_own::kill(...) from outside
  dropped,  // the last actor_own was destroyed
  lost,     // reserved for remote actors: the connection was lost
};

// Termination as a value. `failed` and `killed` carry the error as a std::exception_ptr;
// `has_error()` is true for exactly those two. `text()` gives the same wording as Stakker
// ("Actor failed: <what()>").
class STAKKER_EXPORT stop_cause {
 public:
  static stop_cause stopped() noexcept { return stop_cause{stop_kind::stopped, {}}; }
  static stop_cause failed(std::exception_ptr e) noexcept {
    return stop_cause{stop_kind::failed, std::move(e)};
  }
  static stop_cause failed(std::string_view message);
  static stop_cause killed(std::exception_ptr e) noexcept {
    return stop_cause{stop_kind::killed, std::move(e)};
  }
  static stop_cause killed(std::string_view message);
  static stop_cause dropped() noexcept { return stop_cause{stop_kind::dropped, {}}; }
  static stop_cause lost() noexcept { return stop_cause{stop_kind::lost, {}}; }

  stop_kind kind() const noexcept { return kind_; }
  bool has_error() const noexcept {
    return kind_ == stop_kind::failed || kind_ == stop_kind::killed;
  }
  // The error of a failed or killed actor; null otherwise.
  const std::exception_ptr& error() const noexcept { return error_; }
  // The error's what() (or a placeholder for a non-std exception); empty without an error.
  std::string message() const;
  // "Actor stopped", "Actor failed: <message>", "Actor was killed: <message>",
  // "Actor was dropped", "Lost connection to actor".
  std::string text() const;

  friend bool operator==(const stop_cause& a, stop_kind k) noexcept { return a.kind_ == k; }
  friend STAKKER_EXPORT std::ostream& operator<<(std::ostream& os, const stop_cause& c);

 private:
  stop_cause(stop_kind k, std::exception_ptr e) noexcept : kind_(k), error_(std::move(e)) {}

  stop_kind kind_;
  std::exception_ptr error_;
};

// Makes an exception_ptr holding a std::runtime_error with `message`.
STAKKER_EXPORT std::exception_ptr make_error(std::string_view message);

}  // namespace stakker
