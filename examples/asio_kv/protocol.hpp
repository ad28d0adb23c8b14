// SPDX-License-Identifier: MIT OR Apache-2.0
// The key-value protocol, shared by the server, the load generator and the tests. Commands
// and replies are lines ending in '\n'; values travel as a length-prefixed run of bytes
// after their line, so they may hold anything ('\n' and NUL included).
//
//   client -> server   "SET <key> <length>\n" <length bytes>   ->  "OK\n"
//   client -> server   "GET <key>\n"    ->  "VALUE <length>\n" <length bytes>, or "NONE\n"
//   client -> server   "DEL <key>\n"    ->  "DELETED\n", or "NONE\n"
//   client -> server   "QUIT\n"         ->  "BYE\n", then the server closes the connection
//   server -> client   "ERROR <reason>\n" for a malformed command; then the server closes
//
// Keys are 1..250 bytes, none of them a space or a control character. Commands may be
// pipelined: the server answers them in order, one at a time. For typing at it (telnet,
// `nc -C`), a trailing '\r' on a line is ignored, and so are empty lines: a value typed by
// hand may be followed by Enter. Plain functions: no I/O, no runtime.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kv {

inline constexpr std::size_t max_line = 1024;                    // with its '\n'
inline constexpr std::size_t max_key = 250;                      // bytes
inline constexpr std::size_t max_value = std::size_t{64} << 20;  // bytes (64 MiB)

enum class verb { set, get, del, quit, blank, bad };  // blank: an empty line, ignored

// A parsed command line. `key` and `error` view the line and static text respectively.
struct command {
  verb what = verb::bad;
  std::string_view key;    // SET, GET, DEL
  std::size_t length = 0;  // SET: the length of the value that follows the line
  std::string_view error;  // bad: why, for the "ERROR <reason>" reply
};

// Parses one command line, given without its '\n'.
command parse_command(std::string_view line);

enum class answer { ok, value, none, deleted, bye, error, bad };

// A parsed reply line.
struct reply {
  answer what = answer::bad;
  std::size_t length = 0;  // value: the length of the value that follows the line
  std::string_view text;   // error: the reason; bad: the whole line
};

// Parses one reply line, given without its '\n'.
reply parse_reply(std::string_view line);

// Whether `key` may be used as a key.
bool valid_key(std::string_view key);

// Command and reply lines, '\n' included.
std::string set_line(std::string_view key, std::size_t length);
std::string get_line(std::string_view key);
std::string del_line(std::string_view key);
std::string value_line(std::size_t length);
std::string error_line(std::string_view reason);

}  // namespace kv
