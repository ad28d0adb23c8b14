// SPDX-License-Identifier: MIT OR Apache-2.0
// The metrics endpoint's request-head parser (src/observe/http_request.hpp) on arbitrary
// client bytes. Checked: what a complete head reports can be read off the input (its size
// ends at a line end within the limit, the method a token, the target visible ASCII, the
// version 1.0 or 1.1); a refusal always says why; every prefix that is not incomplete
// parses exactly as the whole does (so parsing as bytes arrive is sound); a larger limit
// changes nothing but too_large; and the head rewritten with CRLF line ends and without
// leading empty lines parses to the same request.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "observe/http_request.hpp"

namespace {

using stakker::fuzz::require;
using stakker::observe::detail::head_status;
using stakker::observe::detail::is_token_char;
using stakker::observe::detail::parse_request_head;
using stakker::observe::detail::request_head;

constexpr std::size_t max_head = 512;
constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

bool same(const request_head& a, const request_head& b) {
  return a.status == b.status && a.error == b.error && a.head_size == b.head_size &&
         a.method == b.method && a.target == b.target && a.minor_version == b.minor_version &&
         a.keep_alive == b.keep_alive && a.has_body == b.has_body;
}

bool within(std::string_view part, std::string_view whole, std::size_t size) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + size;
}

void check_shape(const request_head& h, std::string_view input, std::size_t limit) {
  require((h.status == head_status::bad || h.status == head_status::too_large) == !h.error.empty(),
          "error is not set exactly for a refusal");
  if (h.status != head_status::complete) return;
  require(h.head_size > 0 && h.head_size <= input.size() && h.head_size <= limit,
          "head_size outside the input or over the limit");
  require(input[h.head_size - 1] == '\n', "the head does not end at a line end");
  require(!h.method.empty() && within(h.method, input, h.head_size),
          "the method is empty or not in the head");
  for (char c : h.method) require(is_token_char(c), "the method has a non-token character");
  require(!h.target.empty() && within(h.target, input, h.head_size),
          "the target is empty or not in the head");
  for (char c : h.target) require(c > ' ' && c < '\x7f', "the target has a character not allowed");
  require(h.minor_version == 0 || h.minor_version == 1, "a version other than 1.0 and 1.1");
}

// The head with CRLF line ends throughout and no empty lines before the request line.
std::string normalized(std::string_view head) {
  std::string out;
  bool started = false;
  std::size_t at = 0;
  while (at < head.size()) {
    const std::size_t nl = head.find('\n', at);
    std::string_view line = head.substr(at, nl - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = nl + 1;
    if (!started && line.empty()) continue;
    started = true;
    out.append(line);
    out.append("\r\n");
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const request_head whole = parse_request_head(input, max_head);
  check_shape(whole, input, max_head);

  // Prefixes: all of them for short inputs, else a spread of cut points.
  const std::size_t step = size <= 300 ? 1 : size / 97 + 1;
  for (std::size_t n = 0; n < size; n += step) {
    const request_head part = parse_request_head(input.substr(0, n), max_head);
    check_shape(part, input.substr(0, n), max_head);
    if (part.status != head_status::incomplete)
      require(same(part, whole), "a prefix parses otherwise than the whole input");
  }

  // Without a limit: the same, but that too_large is incomplete, bad, or a larger head.
  const request_head free = parse_request_head(input, unlimited);
  check_shape(free, input, unlimited);
  require(free.status != head_status::too_large, "too_large without a limit");
  if (whole.status == head_status::too_large) {
    require(free.status != head_status::complete || free.head_size > max_head,
            "too_large under the limit, but complete within it without one");
  } else {
    require(same(free, whole), "the limit changed a result other than too_large");
  }

  if (whole.status == head_status::complete) {
    const std::string again = normalized(input.substr(0, whole.head_size));
    const request_head h = parse_request_head(again, unlimited);
    require(h.status == head_status::complete && h.head_size == again.size(),
            "the normalized head is not one complete head");
    require(h.method == whole.method && h.target == whole.target &&
                h.minor_version == whole.minor_version && h.keep_alive == whole.keep_alive &&
                h.has_body == whole.has_body,
            "the normalized head parses to another request");
  }
  return 0;
}
