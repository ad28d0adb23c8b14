// SPDX-License-Identifier: MIT OR Apache-2.0
// The coroutine bridge (target stakker::coro): actors and C++20 coroutines, both ways.
#pragma once

#include "stakker/coro/async_generator.hpp"
#include "stakker/coro/fwd_stream.hpp"
#include "stakker/coro/query.hpp"
#include "stakker/coro/result.hpp"
#include "stakker/coro/ret_pipe.hpp"
#include "stakker/coro/sleep.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/coro/stream_item.hpp"
#include "stakker/coro/task.hpp"
#include "stakker/coro/when.hpp"
