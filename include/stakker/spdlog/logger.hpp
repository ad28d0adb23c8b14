// SPDX-License-Identifier: MIT OR Apache-2.0
// The spdlog adapter: a stakker::logger that hands a runtime's records to an spdlog logger
// (its sinks, pattern and level then apply as to any other record of the program).
#pragma once

#include <spdlog/logger.h>

#include <memory>

#include "stakker/log.hpp"
#include "stakker/spdlog/export.hpp"

namespace stakker::spdlog_adapter {

// Levels map one to one (warn to spdlog's warn, error to err). The text is
// "rt1 #17 chat::room: message k=v" ("[audit] " before an audit record's message); the
// time is spdlog's own (the wall clock when written), not the runtime's. `to` must outlive
// the runtime's use of the returned logger (it is held by shared_ptr).
STAKKER_SPDLOG_EXPORT logger to_spdlog(std::shared_ptr<spdlog::logger> to);

}  // namespace stakker::spdlog_adapter
