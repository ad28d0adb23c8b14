# SPDX-License-Identifier: MIT OR Apache-2.0
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(stakker_install_targets stakker stakker_loop stakker_coro stakker_testing)
if(TARGET stakker_asio)
  list(APPEND stakker_install_targets stakker_asio)
endif()
install(TARGETS ${stakker_install_targets} EXPORT stakker-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT stakker-targets
  NAMESPACE stakker::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stakker)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/stakker-config.cmake.in
  ${PROJECT_BINARY_DIR}/stakker-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stakker)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/stakker-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/stakker-config.cmake
  ${PROJECT_BINARY_DIR}/stakker-config-version.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindAsio.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stakker)
# The license (MIT OR Apache-2.0) goes with the package.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/LICENSE-MIT
  ${PROJECT_SOURCE_DIR}/LICENSE-APACHE
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/stakker)
