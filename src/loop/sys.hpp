// SPDX-License-Identifier: MIT OR Apache-2.0
// Internal helpers for the loop's socket code: errno to exceptions and error codes.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

#include "stakker/loop/socket_address.hpp"
#include "stakker/loop/unique_fd.hpp"

namespace stakker::loop::sys {

[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

inline std::error_code errno_code(int err) noexcept { return {err, std::generic_category()}; }

inline bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

// A non-blocking, close-on-exec socket for `a`'s family. Throws std::system_error.
unique_fd make_socket(const socket_address& a, int type);
// Binds `s` to `a`; throws std::system_error naming `what` and the address.
void bind_to(int s, const socket_address& a, const char* what);
socket_address local_address_of(int s);
socket_address peer_address_of(int s);

}  // namespace stakker::loop::sys
