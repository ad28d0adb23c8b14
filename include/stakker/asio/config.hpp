// SPDX-License-Identifier: MIT OR Apache-2.0
// Which Asio the bridge is built against: Debian's standalone Asio (`libasio-dev`, the
// default) or Boost.Asio (CMake option STAKKER_ASIO_BOOST, which defines
// STAKKER_ASIO_USE_BOOST). The bridge names Asio only as `stakker::asio::net`.
#pragma once

#if defined(STAKKER_ASIO_USE_BOOST)
#include <boost/asio.hpp>
// For specializing Asio's templates (async_result).
#define STAKKER_ASIO_NAMESPACE_BEGIN namespace boost::asio {
#define STAKKER_ASIO_NAMESPACE_END }
namespace stakker::asio {
namespace net = ::boost::asio;
using error_code = ::boost::system::error_code;
using system_error = ::boost::system::system_error;
}  // namespace stakker::asio
#else
#include <asio.hpp>
#define STAKKER_ASIO_NAMESPACE_BEGIN namespace asio {
#define STAKKER_ASIO_NAMESPACE_END }
namespace stakker::asio {
namespace net = ::asio;
using error_code = std::error_code;
using system_error = std::system_error;
}  // namespace stakker::asio
#endif
