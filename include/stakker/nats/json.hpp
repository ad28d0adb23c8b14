// SPDX-License-Identifier: MIT OR Apache-2.0
// json_codec: typed NATS payloads as JSON, through nlohmann::json (Debian's
// nlohmann-json3-dev). JSON because it is what the other NATS clients and JetStream's own
// API speak, so typed subjects stay readable by any of them; nlohmann::json because it is
// the most used C++ JSON library and maps a type with one macro
// (NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE) or a to_json/from_json pair.
#pragma once

#include <string>
#include <string_view>
#include <typeinfo>

#include <nlohmann/json.hpp>

#include "stakker/nats/error.hpp"

namespace stakker::nats {

struct json_codec {
  template <class T>
  static std::string encode(const T& value) {
    return nlohmann::json(value).dump();
  }
  // Throws nats::error (NATS_ERR) naming the type and the parser's reason, for a payload
  // that is not JSON or not a T.
  template <class T>
  static T decode(std::string_view payload) {
    try {
      return nlohmann::json::parse(payload).template get<T>();
    } catch (const nlohmann::json::exception& e) {
      std::string shown(payload.substr(0, 64));
      if (payload.size() > 64) shown += "...";
      throw error(NATS_ERR, std::string("stakker::nats::json_codec: cannot decode a ") +
                                typeid(T).name() + " from '" + shown + "': " + e.what());
    }
  }
};

}  // namespace stakker::nats
