// SPDX-License-Identifier: MIT OR Apache-2.0
// Must not compile: a ret cannot be copy-assigned either.
// Built with STAKKER_COMPILE_FAIL_CONTROL, the same file move-assigns and must compile.
#include <stakker/ret.hpp>

#include <utility>

void use() {
  stakker::ret<int> a = stakker::ret_nop<int>();
  stakker::ret<int> b;
#ifdef STAKKER_COMPILE_FAIL_CONTROL
  b = std::move(a);
#else
  b = a;
#endif
  b(1);
}
