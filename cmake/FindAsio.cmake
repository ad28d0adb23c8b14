# SPDX-License-Identifier: MIT OR Apache-2.0
# Finds standalone Asio, a header-only library (Debian's libasio-dev): sets Asio_FOUND,
# Asio_INCLUDE_DIR and Asio_VERSION, and defines the imported target Asio::asio. Installed
# with stakker's package, whose config finds Asio through it for stakker::asio.
find_path(Asio_INCLUDE_DIR asio.hpp)
mark_as_advanced(Asio_INCLUDE_DIR)
if(Asio_INCLUDE_DIR AND EXISTS "${Asio_INCLUDE_DIR}/asio/version.hpp")
  # ASIO_VERSION is XXYYZZ: major * 100000 + minor * 100 + patch.
  file(STRINGS "${Asio_INCLUDE_DIR}/asio/version.hpp" asio_version_line
       REGEX "^#define ASIO_VERSION [0-9]+")
  string(REGEX REPLACE "^#define ASIO_VERSION ([0-9]+).*" "\\1" asio_version_number
         "${asio_version_line}")
  math(EXPR asio_major "${asio_version_number} / 100000")
  math(EXPR asio_minor "${asio_version_number} / 100 % 1000")
  math(EXPR asio_patch "${asio_version_number} % 100")
  set(Asio_VERSION "${asio_major}.${asio_minor}.${asio_patch}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Asio REQUIRED_VARS Asio_INCLUDE_DIR VERSION_VAR Asio_VERSION)
if(Asio_FOUND AND NOT TARGET Asio::asio)
  add_library(Asio::asio INTERFACE IMPORTED)
  # An imported target's include directory is a system one: Asio's warnings stay quiet.
  set_target_properties(Asio::asio PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Asio_INCLUDE_DIR}")
endif()
