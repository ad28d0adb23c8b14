// SPDX-License-Identifier: MIT OR Apache-2.0
// The core of stakker-cpp: runtime, actors, callbacks and shared state.
#pragma once

#include "stakker/actor.hpp"
#include "stakker/actor_own_slab.hpp"
#include "stakker/call.hpp"
#include "stakker/core.hpp"
#include "stakker/cx.hpp"
#include "stakker/deferrer.hpp"
#include "stakker/fwd.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/share.hpp"
#include "stakker/stop_cause.hpp"
#include "stakker/sync/channel.hpp"
#include "stakker/sync/piped_thread.hpp"
#include "stakker/sync/waker.hpp"
#include "stakker/time.hpp"
#include "stakker/timer_key.hpp"
#include "stakker/timers.hpp"
#include "stakker/version.hpp"
