// SPDX-License-Identifier: MIT OR Apache-2.0
// Property checks in fuzz targets: a broken one prints what broke and aborts, which libFuzzer
// reports as a crash (saving the input) and the replay driver as a failed test. Active in
// every build type (not an assert).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace stakker::fuzz {

[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "fuzz property broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

inline void require(bool ok, std::string_view what) {
  if (!ok) fail(what);
}

// A model driver's step result: empty when the implementation agreed with the model.
inline void require_agreement(const std::string& difference) {
  if (!difference.empty()) fail(difference);
}

}  // namespace stakker::fuzz
