// SPDX-License-Identifier: MIT OR Apache-2.0
// Names of types and member functions at compile time, for log records and traces:
// "chat::room", "chat::room::say" ("{anonymous}::x" for x in an unnamed namespace). Taken from the
// compiler's __PRETTY_FUNCTION__ (g++ and clang), stored once per type or member as a
// NUL-terminated constant.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace stakker::detail {

// The text between `marker` and the end of the template argument list in `f`: g++ writes
// "[with T = chat::room; std::string_view = ...]", clang "[T = chat::room]".
constexpr std::string_view pretty_argument(std::string_view f, std::string_view marker) noexcept {
  std::size_t from = f.find(marker);
  if (from == std::string_view::npos) return "?";
  from += marker.size();
  std::size_t to = f.find("; ", from);
  if (to == std::string_view::npos) to = f.rfind(']');
  if (to == std::string_view::npos || to < from) return "?";
  return f.substr(from, to - from);
}

template <class T>
constexpr std::string_view pretty_type() noexcept {
  return pretty_argument(__PRETTY_FUNCTION__, "T = ");
}
template <auto M>
constexpr std::string_view pretty_value() noexcept {
  std::string_view v = pretty_argument(__PRETTY_FUNCTION__, "M = ");
  if (!v.empty() && v.front() == '&') v.remove_prefix(1);
  return v;
}

// One spelling for every compiler: clang's "(anonymous namespace)" becomes g++'s
// "{anonymous}".
inline constexpr std::string_view clang_anonymous = "(anonymous namespace)";
inline constexpr std::string_view anonymous = "{anonymous}";

constexpr std::size_t normalized_size(std::string_view s) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (s.substr(i, clang_anonymous.size()) == clang_anonymous) {
      n += anonymous.size();
      i += clang_anonymous.size();
    } else {
      ++n;
      ++i;
    }
  }
  return n;
}

template <std::size_t N>
struct static_name {
  std::array<char, N + 1> text{};
  constexpr explicit static_name(std::string_view s) noexcept {
    std::size_t o = 0;
    for (std::size_t i = 0; i < s.size() && o < N;) {
      if (s.substr(i, clang_anonymous.size()) == clang_anonymous) {
        for (char c : anonymous) text[o++] = c;
        i += clang_anonymous.size();
      } else {
        text[o++] = s[i++];
      }
    }
  }
};

template <class T>
struct type_name_of {
  static constexpr std::string_view view = pretty_type<T>();
  static constexpr static_name<normalized_size(view)> name{view};
};
template <auto M>
struct member_name_of {
  static constexpr std::string_view view = pretty_value<M>();
  static constexpr static_name<normalized_size(view)> name{view};
};

// "chat::room" for chat::room; NUL-terminated, static storage.
template <class T>
constexpr const char* type_name() noexcept {
  return type_name_of<T>::name.text.data();
}
// "chat::room::say" for &chat::room::say; NUL-terminated, static storage.
template <auto M>
constexpr const char* member_name() noexcept {
  return member_name_of<M>::name.text.data();
}

}  // namespace stakker::detail
