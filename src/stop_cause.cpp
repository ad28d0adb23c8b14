// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/stop_cause.hpp"

#include <ostream>
#include <stdexcept>

namespace stakker {

std::exception_ptr make_error(std::string_view message) {
  return std::make_exception_ptr(std::runtime_error(std::string(message)));
}

stop_cause stop_cause::failed(std::string_view message) { return failed(make_error(message)); }

stop_cause stop_cause::killed(std::string_view message) { return killed(make_error(message)); }

std::string stop_cause::message() const {
  if (!error_) return {};
  try {
    std::rethrow_exception(error_);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

std::string stop_cause::text() const {
  switch (kind_) {
    case stop_kind::stopped:
      return "Actor stopped";
    case stop_kind::failed:
      return "Actor failed: " + message();
    case stop_kind::killed:
      return "Actor was killed: " + message();
    case stop_kind::dropped:
      return "Actor was dropped";
    case stop_kind::lost:
      return "Lost connection to actor";
  }
  return "Actor stopped (unknown cause)";
}

std::ostream& operator<<(std::ostream& os, const stop_cause& c) { return os << c.text(); }

}  // namespace stakker
