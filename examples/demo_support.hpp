// SPDX-License-Identifier: MIT OR Apache-2.0
// What the two demos (examples/chat, examples/asio_kv) share: command-line options with
// bounds, and latency percentiles.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace demo {

struct numeric_option {
  std::string_view name;  // e.g. "--clients"
  long* value;
  long min, max;
};
struct flag_option {
  std::string_view name;  // e.g. "--serve"
  bool* value;
};

// Parses argv into the options given. `--help` / `-h` print `usage` and exit 0. Returns
// false, after printing why (and the usage) on stderr, for an unknown option, a missing
// value, or a value that is not a number within its bounds.
inline bool parse_options(int argc, char** argv, const char* program, const char* usage,
                          std::initializer_list<numeric_option> numerics,
                          std::initializer_list<flag_option> flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    const auto* f = std::find_if(flags.begin(), flags.end(),
                                 [&](const flag_option& x) { return x.name == arg; });
    if (f != flags.end()) {
      *f->value = true;
      continue;
    }
    const auto* n = std::find_if(numerics.begin(), numerics.end(),
                                 [&](const numeric_option& x) { return x.name == arg; });
    if (n == numerics.end()) {
      std::fprintf(stderr, "%s: unknown option '%s'\n%s", program, argv[i], usage);
      return false;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "%s: %s needs a value\n%s", program, argv[i], usage);
      return false;
    }
    const char* text = argv[++i];
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || v < n->min || v > n->max) {
      std::fprintf(stderr, "%s: %s wants a number in %ld..%ld, not '%s'\n", program, argv[i - 1],
                   n->min, n->max, text);
      return false;
    }
    *n->value = v;
  }
  return true;
}

// The p-th quantile (0..1) of nanosecond samples, in microseconds; reorders `v`.
inline double percentile_us(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]) / 1000.0;
}

}  // namespace demo
