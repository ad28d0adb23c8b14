# SPDX-License-Identifier: MIT OR Apache-2.0
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ${stakker_libraries} stakker_testing EXPORT stakker-targets
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
  ${PROJECT_SOURCE_DIR}/cmake/FindNatsC.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stakker)
# The license (MIT OR Apache-2.0) goes with the package.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/LICENSE-MIT
  ${PROJECT_SOURCE_DIR}/LICENSE-APACHE
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/stakker)

# pkg-config: one file per library (stakker, stakker-loop, stakker-coro, stakker-shard,
# stakker-asio, stakker-nats, stakker-observe, stakker-spdlog),
# relocatable: paths are taken from the file's own place. Fields: name, description,
# required packages, library, extra Cflags, extra Libs.
set(stakker_pc_components "stakker|core runtime, actors and callbacks||stakker||-pthread")
list(APPEND stakker_pc_components "stakker-loop|the embedded epoll loop, TCP and UDP|stakker|stakker_loop||")
list(APPEND stakker_pc_components "stakker-coro|the coroutine bridge|stakker|stakker_coro||")
list(APPEND stakker_pc_components
  "stakker-shard|shards: a runtime per thread, remote calls between them|stakker-loop|stakker_shard||")
if(TARGET stakker_asio)
  set(stakker_pc_asio_cflags "")
  if(STAKKER_ASIO_BOOST)
    set(stakker_pc_asio_cflags "-DSTAKKER_ASIO_USE_BOOST=1")
  endif()
  list(APPEND stakker_pc_components
    "stakker-asio|the Asio bridge|stakker-coro stakker-loop|stakker_asio|${stakker_pc_asio_cflags}|")
endif()
if(TARGET stakker_nats)
  list(APPEND stakker_pc_components
    "stakker-nats|the NATS bridge|stakker-coro stakker-loop libnats nlohmann_json|stakker_nats||")
endif()
if(TARGET stakker_observe)
  list(APPEND stakker_pc_components
    "stakker-observe|log sinks, trace export and the Prometheus endpoint|stakker-loop fmt|stakker_observe||")
endif()
if(TARGET stakker_spdlog)
  list(APPEND stakker_pc_components
    "stakker-spdlog|the spdlog adapter|stakker-observe spdlog|stakker_spdlog||")
endif()
file(RELATIVE_PATH STAKKER_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" STAKKER_PC_TO_PREFIX "${STAKKER_PC_TO_PREFIX}")
foreach(entry IN LISTS stakker_pc_components)
  string(REPLACE "|" ";" fields "${entry}")
  list(GET fields 0 STAKKER_PC_NAME)
  list(GET fields 1 STAKKER_PC_WHAT)
  list(GET fields 2 STAKKER_PC_REQUIRES)
  list(GET fields 3 STAKKER_PC_LIB)
  list(GET fields 4 STAKKER_PC_CFLAGS)
  list(GET fields 5 STAKKER_PC_LIBS)
  # A static library's export macros must expand to nothing (cmake/export.cmake), as the
  # CMake package says through the target's compile definitions.
  get_target_property(type ${STAKKER_PC_LIB} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    string(TOUPPER "${STAKKER_PC_LIB}" base)
    string(STRIP "-D${base}_STATIC_DEFINE ${STAKKER_PC_CFLAGS}" STAKKER_PC_CFLAGS)
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/stakker.pc.in
    ${PROJECT_BINARY_DIR}/pkgconfig/${STAKKER_PC_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${STAKKER_PC_NAME}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
