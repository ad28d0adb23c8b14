// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: a ret is move-only (called at most once), so copying it is an error.
// Built with STAKKER_COMPILE_FAIL_CONTROL, the same file moves instead and must compile.
#include <stakker/ret.hpp>

#include <utility>

void use() {
  stakker::ret<int> a = stakker::ret_nop<int>();
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  stakker::ret<int> b = std::move(a);
#else
  stakker::ret<int> b = a;
#endif
  b(1);
}
