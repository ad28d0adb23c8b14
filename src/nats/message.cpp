// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/nats/message.hpp"

#include "stakker/nats/error.hpp"
#include "stakker/nats/options.hpp"

namespace stakker::nats {

error::error(natsStatus status, const std::string& what)
    : std::runtime_error(what), status_(status) {}

const char* to_string(event::kind k) noexcept {
  switch (k) {
    case event::kind::connected:
      return "connected";
    case event::kind::disconnected:
      return "disconnected";
    case event::kind::reconnected:
      return "reconnected";
    case event::kind::closed:
      return "closed";
    case event::kind::error:
      return "error";
    case event::kind::slow_consumer:
      return "slow_consumer";
    case event::kind::lame_duck:
      return "lame_duck";
  }
  return "?";
}

namespace {
std::string_view view(const char* s) noexcept { return s == nullptr ? std::string_view() : s; }
}  // namespace

std::string_view message::subject() const noexcept {
  return m_ ? view(natsMsg_GetSubject(m_.get())) : std::string_view();
}

std::string_view message::reply() const noexcept {
  return m_ ? view(natsMsg_GetReply(m_.get())) : std::string_view();
}

std::string_view message::data() const noexcept {
  if (!m_) return {};
  const char* d = natsMsg_GetData(m_.get());
  int n = natsMsg_GetDataLength(m_.get());
  return d == nullptr || n <= 0 ? std::string_view()
                                : std::string_view(d, static_cast<std::size_t>(n));
}

std::span<const std::byte> message::bytes() const noexcept {
  std::string_view d = data();
  return {reinterpret_cast<const std::byte*>(d.data()), d.size()};
}

std::optional<std::string_view> message::header(const std::string& name) const {
  const char* v = nullptr;
  if (!m_ || natsMsgHeader_Get(m_.get(), name.c_str(), &v) != NATS_OK) return std::nullopt;
  return view(v);
}

std::vector<std::string_view> message::header_values(const std::string& name) const {
  std::vector<std::string_view> out;
  const char** vs = nullptr;
  int n = 0;
  if (!m_ || natsMsgHeader_Values(m_.get(), name.c_str(), &vs, &n) != NATS_OK) return out;
  for (int i = 0; i < n; ++i) out.push_back(view(vs[i]));
  free(static_cast<void*>(vs));  // the array is the caller's (the strings are the message's)
  return out;
}

std::vector<std::string_view> message::header_names() const {
  std::vector<std::string_view> out;
  const char** ks = nullptr;
  int n = 0;
  if (!m_ || natsMsgHeader_Keys(m_.get(), &ks, &n) != NATS_OK) return out;
  for (int i = 0; i < n; ++i) out.push_back(view(ks[i]));
  free(static_cast<void*>(ks));
  return out;
}

}  // namespace stakker::nats
