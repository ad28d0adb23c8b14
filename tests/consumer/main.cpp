// SPDX-License-Identifier: MIT OR Apache-2.0
// Shared by both consumer projects: the smallest program that uses the installed or
// add_subdirectory'd library and its loop and coroutine targets. Exits 0 only if the
// spawned task really ran on the loop and delivered its value.
#include <stakker/coro/coro.hpp>
#include <stakker/loop/epoll_loop.hpp>
#include <stakker/stakker.hpp>
#include <string_view>

// The version header agrees with the package that was found (when the consumer says which).
#ifdef STAKKER_EXPECTED_VERSION
static_assert(std::string_view(STAKKER_VERSION_STRING) == STAKKER_EXPECTED_VERSION,
              "stakker/version.hpp disagrees with the package's version");
static_assert(STAKKER_VERSION_MAJOR * 10000 + STAKKER_VERSION_MINOR * 100 + STAKKER_VERSION_PATCH >=
                  100,
              "stakker is at least 0.1.0");
#endif

namespace {
stakker::coro::task<int> answer() { co_return 42; }
}  // namespace

int main() {
  stakker::runtime rt;
  stakker::loop::epoll_loop loop(rt);
  int got = 0;
  stakker::coro::spawn(rt, answer(), stakker::ret_do<int>([&](std::optional<int> v) {
                         got = v.value_or(-1);
                         rt.shutdown(stakker::stop_cause::stopped());
                       }));
  loop.run();
  return got == 42 ? 0 : 1;
}
