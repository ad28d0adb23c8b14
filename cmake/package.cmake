# SPDX-License-Identifier: MIT OR Apache-2.0
# The Debian package (cpack -G DEB in a build of the `package` preset, which installs
# under /usr): libstakker-dev, holding the libraries, headers, CMake package, pkg-config
# files and license. `tools/dev test package` builds it, installs it with dpkg and builds
# the consumer projects against it.
set(CPACK_PACKAGE_NAME "libstakker-dev")
set(CPACK_PACKAGE_VENDOR "The stakker-cpp authors")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "Actors whose members are messages, one FIFO queue, timers, a Linux epoll loop, and "
    "bridges to C++20 coroutines and Asio. Development files: static or shared libraries, "
    "headers, CMake package (find_package(stakker)) and pkg-config files.")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_GENERATOR "DEB")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The stakker-cpp authors")
set(CPACK_DEBIAN_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libstdc++-12-dev | libc++-dev")
if(TARGET stakker_asio)
  if(STAKKER_ASIO_BOOST)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libboost-dev (>= 1.81)")
  else()
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libasio-dev")
  endif()
endif()
if(TARGET stakker_nats)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libnats-dev, nlohmann-json3-dev")
endif()
if(TARGET stakker_observe)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libfmt-dev")
endif()
if(TARGET stakker_spdlog)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libspdlog-dev")
endif()
include(CPack)
