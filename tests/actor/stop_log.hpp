// SPDX-License-Identifier: MIT OR Apache-2.0
// Test helper: records what an actor's notify callback heard.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "stakker/ret.hpp"
#include "stakker/stop_cause.hpp"

namespace stakker_test {

// Declare it before the runtime so that it outlives every actor whose notify it made.
struct stop_log {
  int calls = 0;  // times the notify was answered, with a cause or with "none"
  int nones = 0;  // times it was destroyed uncalled
  std::optional<stakker::stop_cause> cause;  // the last cause heard

  stakker::ret<stakker::stop_cause> notify() {
    return stakker::ret_do<stakker::stop_cause>([this](std::optional<stakker::stop_cause> c) {
      ++calls;
      if (c)
        cause = std::move(c);
      else
        ++nones;
    });
  }

  // Heard exactly one cause, of kind `k`, and no "none".
  bool heard_once(stakker::stop_kind k) const {
    return calls == 1 && nones == 0 && cause && *cause == k;
  }
  std::string message() const { return cause ? cause->message() : std::string("<no cause>"); }
};

}  // namespace stakker_test
