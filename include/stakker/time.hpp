// Time as the runtime sees it: the loop passes `instant`s in, actors read `core::now()`.
#pragma once

#include <chrono>

namespace stakker {

// The runtime only ever compares and subtracts instants, so any loop (real or virtual)
// can drive it with steady_clock values of its own making.
using clock = std::chrono::steady_clock;
using instant = clock::time_point;
using duration = clock::duration;

}  // namespace stakker
