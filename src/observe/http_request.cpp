// SPDX-License-Identifier: MIT OR Apache-2.0
#include "http_request.hpp"

#include <cstdint>
#include <string_view>

namespace stakker::observe::detail {

namespace {

constexpr std::size_t npos = std::string_view::npos;

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// ASCII case-insensitive equality (field names and connection options).
bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// A control character other than HTAB (obs-text, 0x80 and up, is allowed in values).
bool is_ctl(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

bool is_target_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e;
}

// The first check of a request line, also made on one not yet complete: every character
// before the first space (that lies within the first `max_head` bytes of input; `from` is
// the line's offset) must be a tchar. Limited so, a prefix and the whole agree.
bool method_chars_ok(std::string_view line, std::size_t from, std::size_t max_head) noexcept {
  for (std::size_t i = 0; i < line.size() && line[i] != ' ' && from + i < max_head; ++i)
    if (!is_token_char(line[i])) return false;
  return true;
}

// Content-Length: one decimal number of at most 18 digits (no sign, no list).
bool parse_length(std::string_view v, std::uint64_t& out) noexcept {
  if (v.empty() || v.size() > 18) return false;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = n;
  return true;
}

// The options of a Connection field: a comma-separated list of tokens.
void read_connection(std::string_view v, bool& close, bool& keep) noexcept {
  while (!v.empty()) {
    const std::size_t comma = v.find(',');
    const std::string_view option = trim_ows(v.substr(0, comma));
    if (iequals(option, "close")) close = true;
    if (iequals(option, "keep-alive")) keep = true;
    if (comma == npos) break;
    v.remove_prefix(comma + 1);
  }
}

}  // namespace

bool is_token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != npos;
}

request_head parse_request_head(std::string_view input, std::size_t max_head) noexcept {
  request_head h;
  const auto refuse = [&h](head_status s, std::string_view why) {
    h.status = s;
    h.error = why;
    return h;
  };
  constexpr std::string_view bad_method = "the method has a character not allowed in a token";
  constexpr std::string_view too_large = "the request head is larger than the limit";
  bool request_line = false;  // seen
  bool close = false;
  bool keep = false;
  int hosts = 0;
  bool has_length = false;
  std::uint64_t length = 0;
  bool has_encoding = false;
  for (std::size_t at = 0;;) {
    const std::size_t nl = input.find('\n', at);
    if (nl == npos) {
      std::string_view rest = input.substr(at);
      // A final CR may be the start of a line end: not judged yet.
      if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
      if (!request_line && !method_chars_ok(rest, at, max_head))
        return refuse(head_status::bad, bad_method);
      if (input.size() >= max_head) return refuse(head_status::too_large, too_large);
      return h;  // incomplete
    }
    std::string_view line = input.substr(at, nl - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!request_line && !method_chars_ok(line, at, max_head))
      return refuse(head_status::bad, bad_method);
    if (nl + 1 > max_head) return refuse(head_status::too_large, too_large);
    at = nl + 1;
    if (line.find('\r') != npos) return refuse(head_status::bad, "a CR not followed by LF");

    if (!request_line) {
      if (line.empty()) continue;  // empty lines before the request line are ignored
      request_line = true;
      const std::size_t sp1 = line.find(' ');
      const std::size_t sp2 = sp1 == npos ? npos : line.find(' ', sp1 + 1);
      if (sp2 == npos)
        return refuse(head_status::bad, "the request line is not `method target version`");
      h.method = line.substr(0, sp1);
      h.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const std::string_view version = line.substr(sp2 + 1);
      if (h.method.empty()) return refuse(head_status::bad, "an empty method");
      if (h.target.empty()) return refuse(head_status::bad, "an empty request target");
      for (char c : h.target)
        if (!is_target_char(c))
          return refuse(head_status::bad, "the request target has a character not allowed");
      if (version == "HTTP/1.1") {
        h.minor_version = 1;
      } else if (version == "HTTP/1.0") {
        h.minor_version = 0;
      } else if (version.size() == 8 && version.starts_with("HTTP/") && version[5] >= '0' &&
                 version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9') {
        return refuse(head_status::bad, "an HTTP version other than 1.0 and 1.1");
      } else {
        return refuse(head_status::bad, "a malformed HTTP version");
      }
      continue;
    }

    if (line.empty()) {  // the end of the head
      if (h.minor_version == 1 && hosts == 0)
        return refuse(head_status::bad, "an HTTP/1.1 request without a Host field");
      if (hosts > 1) return refuse(head_status::bad, "more than one Host field");
      if (has_length && has_encoding)
        return refuse(head_status::bad, "both Content-Length and Transfer-Encoding");
      h.keep_alive = !close && (h.minor_version == 1 || keep);
      h.has_body = has_encoding || (has_length && length != 0);
      h.head_size = at;
      h.status = head_status::complete;
      return h;
    }
    if (is_ows(line.front()))
      return refuse(head_status::bad, "a header field folded onto a second line (obs-fold)");
    const std::size_t colon = line.find(':');
    if (colon == npos) return refuse(head_status::bad, "a header field without a colon");
    const std::string_view name = line.substr(0, colon);
    if (name.empty()) return refuse(head_status::bad, "a header field with an empty name");
    for (char c : name)
      if (!is_token_char(c))
        return refuse(head_status::bad,
                      "a header field name with a character not allowed (or space before "
                      "the colon)");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    for (char c : value)
      if (is_ctl(c)) return refuse(head_status::bad, "a control character in a header field value");
    if (iequals(name, "host")) {
      ++hosts;
    } else if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      if (!parse_length(value, n)) return refuse(head_status::bad, "an invalid Content-Length");
      if (has_length && n != length)
        return refuse(head_status::bad, "Content-Length fields that disagree");
      has_length = true;
      length = n;
    } else if (iequals(name, "transfer-encoding")) {
      has_encoding = true;
    } else if (iequals(name, "connection")) {
      read_connection(value, close, keep);
    }
  }
}

}  // namespace stakker::observe::detail
