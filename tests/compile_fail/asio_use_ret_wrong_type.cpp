// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: a timer's wait completes with an error_code, so it cannot feed a ret<int>.
// Built with STAKKER_COMPILE_FAIL_CONTROL, the same file uses a ret<error_code> and must
// compile.
#include <stakker/asio/tokens.hpp>

void use(stakker::core& c, stakker::asio::net::steady_timer& t) {
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  t.async_wait(stakker::asio::use_ret(c, stakker::ret_nop<stakker::asio::error_code>()));
#else
  t.async_wait(stakker::asio::use_ret(c, stakker::ret_nop<int>()));
#endif
}
