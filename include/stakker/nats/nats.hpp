// SPDX-License-Identifier: MIT OR Apache-2.0
// The NATS bridge (stakker::nats): connections, subjects as fwd, requests as ret, services,
// coroutine forms, typed messages, JetStream.
#pragma once

#include "stakker/nats/codec.hpp"
#include "stakker/nats/connection.hpp"
#include "stakker/nats/coro.hpp"
#include "stakker/nats/error.hpp"
#include "stakker/nats/jetstream.hpp"
#include "stakker/nats/json.hpp"
#include "stakker/nats/message.hpp"
#include "stakker/nats/options.hpp"
#include "stakker/nats/service.hpp"
#include "stakker/nats/subscription.hpp"
