// SPDX-License-Identifier: MIT OR Apache-2.0
// The head of an HTTP/1.x request (RFC 9112), parsed strictly: what the metrics endpoint
// needs of it, and a reason for every refusal. Internal to stakker::observe (not exported).
#pragma once

#include <cstddef>
#include <string_view>

namespace stakker::observe::detail {

enum class head_status {
  incomplete,  // no complete head yet and nothing wrong so far: read more
  complete,    // a well-formed head of head_size bytes
  bad,         // malformed (400): `error` says what
  too_large,   // the head does not end within max_head bytes (431)
};

struct request_head {
  head_status status = head_status::incomplete;
  std::string_view error;  // static text, set when status is bad or too_large
  // Bytes of the head, from the first byte of input to the end of its empty line,
  // including empty lines before the request line (RFC 9112 §2.2). Set when complete.
  std::size_t head_size = 0;
  // Set when complete; they view the input.
  std::string_view method;  // a token, case-sensitive ("GET")
  std::string_view target;  // visible ASCII, no spaces ("/metrics?x=1")
  int minor_version = 1;    // HTTP/1.<minor_version>: 0 or 1
  bool keep_alive = true;   // after this request: the version's default and Connection
  bool has_body = false;    // a Content-Length other than 0, or a Transfer-Encoding
};

// Parses the request head at the start of `input` (bytes received so far). Lines end in
// CRLF or a bare LF; a CR anywhere else is refused. The request line is exactly
// `method SP target SP HTTP/1.x`; header fields are `name: value` with a token name and no
// whitespace before the colon, no obsolete line folding and no control characters in the
// value but HTAB. HTTP/1.1 needs exactly one Host field. Content-Length must be one decimal
// number (repeats must agree). Connection is read for `close` and `keep-alive`.
//
// Consistent over prefixes: once a prefix of the input is complete, bad or too_large, every
// longer input has the same result (so input may be parsed as it arrives). Pure; no
// allocation.
request_head parse_request_head(std::string_view input, std::size_t max_head) noexcept;

// Whether `c` is a tchar (RFC 9110 §5.6.2), the characters of a method or field name.
bool is_token_char(char c) noexcept;

}  // namespace stakker::observe::detail
