// SPDX-License-Identifier: MIT OR Apache-2.0
// JSON string literals for the observe part's writers (the JSON-lines sink, the Trace Event
// export). Internal.
#pragma once

#include <fmt/format.h>

#include <iterator>
#include <string_view>

namespace stakker::observe::detail {

// Appends `s` as a JSON string literal (RFC 8259: ", \ and control characters escaped;
// other bytes, UTF-8 included, as they are).
inline void append_json_string(fmt::memory_buffer& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (u < 0x20)
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
        else
          out.push_back(ch);
    }
  }
  out.push_back('"');
}

}  // namespace stakker::observe::detail
