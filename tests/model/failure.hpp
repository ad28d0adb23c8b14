// SPDX-License-Identifier: MIT OR Apache-2.0
// How model drivers report: a step returns an empty string when the implementation agreed
// with the model, else what differed. The gtest asserts it is empty; a fuzz target aborts.
#pragma once

#include <sstream>
#include <string>

namespace stakker::model {

// Joins `parts` into a failure message (streamed, so numbers print as numbers).
template <class... Parts>
std::string failure(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

}  // namespace stakker::model
