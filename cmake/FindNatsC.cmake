# SPDX-License-Identifier: MIT OR Apache-2.0
# Finds the NATS C client (Debian's libnats-dev): sets NatsC_FOUND, NatsC_INCLUDE_DIR,
# NatsC_LIBRARY and NatsC_VERSION, and defines the imported target NatsC::nats. The client's
# own CMake config (cnats) names libraries its -dev package does not pull in (libssl-dev,
# libprotobuf-c-dev), so the shared library is linked directly: it names what it needs.
find_path(NatsC_INCLUDE_DIR nats/nats.h)
find_library(NatsC_LIBRARY NAMES nats)
mark_as_advanced(NatsC_INCLUDE_DIR NatsC_LIBRARY)
if(NatsC_INCLUDE_DIR AND EXISTS "${NatsC_INCLUDE_DIR}/nats/version.h")
  file(STRINGS "${NatsC_INCLUDE_DIR}/nats/version.h" natsc_version_line
       REGEX "^#define NATS_VERSION_STRING +\"[0-9.]+")
  string(REGEX REPLACE "^#define NATS_VERSION_STRING +\"([0-9.]+).*" "\\1" NatsC_VERSION
         "${natsc_version_line}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NatsC REQUIRED_VARS NatsC_LIBRARY NatsC_INCLUDE_DIR
  VERSION_VAR NatsC_VERSION)
if(NatsC_FOUND AND NOT TARGET NatsC::nats)
  add_library(NatsC::nats UNKNOWN IMPORTED)
  set_target_properties(NatsC::nats PROPERTIES
    IMPORTED_LOCATION "${NatsC_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NatsC_INCLUDE_DIR}")
endif()
