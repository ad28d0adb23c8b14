// SPDX-License-Identifier: MIT OR Apache-2.0
// The whole Asio bridge: the runtime's executor, the tokens, and both shared-loop drivers.
#pragma once

#include "stakker/asio/async_spawn.hpp"
#include "stakker/asio/executor.hpp"
#include "stakker/asio/io_loop.hpp"
#include "stakker/asio/io_poller.hpp"
#include "stakker/asio/shared_buffer.hpp"
#include "stakker/asio/tokens.hpp"
#include "stakker/asio/use_task.hpp"
