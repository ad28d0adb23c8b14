# SPDX-License-Identifier: MIT OR Apache-2.0
# Driven by CTest (see CMakeLists.txt next to this file); run as `cmake -D... -P run_consumer.cmake`.
#
#   MODE=install  BUILD_DIR PREFIX [CONFIG]
#       Installs the stakker build in BUILD_DIR into a fresh PREFIX.
#   MODE=consume  SOURCE_DIR BINARY_DIR GENERATOR [MAKE_PROGRAM] CXX_COMPILER [CXX_FLAGS]
#                 [EXE_LINKER_FLAGS] [BUILD_TYPE] [PREFIX] [STAKKER_SOURCE_DIR] [ARGS]
#       Configures (from scratch) and builds the consumer project in SOURCE_DIR with the same
#       compiler and flags as the main build, then runs its `consumer` program, which must
#       exit 0.
#   MODE=pkg_config  SOURCE BINARY_DIR PREFIX PACKAGES CXX_COMPILER [CXX_FLAGS]
#                 [EXE_LINKER_FLAGS]
#       Builds SOURCE with `pkg-config --cflags --libs PACKAGES` of the install in PREFIX
#       (with an rpath to its libdir, for shared libraries), then runs it.
#   MODE=fail_configure  SOURCE_DIR BINARY_DIR EXPECT [ARGS]
#       Configures SOURCE_DIR (with ARGS, a ;-list of -D options) and expects it to FAIL
#       with output matching the regex EXPECT.
#   MODE=configure  SOURCE_DIR BINARY_DIR EXPECT [ARGS]
#       Configures SOURCE_DIR and expects it to succeed with output matching EXPECT.
cmake_minimum_required(VERSION 3.25)

function(run)
  string(JOIN " " shown ${ARGN})
  message(STATUS "running: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${shown}")
  endif()
endfunction()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  set(config_args)
  if(CONFIG)
    set(config_args --config "${CONFIG}")
  endif()
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args})
  file(GLOB_RECURSE config_files "${PREFIX}/*/stakker-config.cmake")
  if(NOT config_files)
    message(FATAL_ERROR "no stakker-config.cmake was installed under ${PREFIX}")
  endif()
elseif(MODE STREQUAL "consume")
  set(args -S "${SOURCE_DIR}" -B "${BINARY_DIR}" --fresh -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
      "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}"
      "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
  if(MAKE_PROGRAM)
    list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  if(PREFIX)
    # Only the freshly installed prefix, never a user or system package registry.
    list(APPEND args "-DCMAKE_PREFIX_PATH=${PREFIX}" "-DSTAKKER_EXPECTED_PREFIX=${PREFIX}"
         -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
  endif()
  if(STAKKER_SOURCE_DIR)
    list(APPEND args "-DSTAKKER_SOURCE_DIR=${STAKKER_SOURCE_DIR}")
  endif()
  list(APPEND args ${ARGS})
  run("${CMAKE_COMMAND}" ${args})

  # The machine is shared: stay at two jobs unless told otherwise.
  set(jobs 2)
  if(DEFINED ENV{CMAKE_BUILD_PARALLEL_LEVEL} AND NOT "$ENV{CMAKE_BUILD_PARALLEL_LEVEL}" STREQUAL "")
    set(jobs "$ENV{CMAKE_BUILD_PARALLEL_LEVEL}")
  endif()
  run("${CMAKE_COMMAND}" --build "${BINARY_DIR}" --parallel ${jobs})

  run("${BINARY_DIR}/consumer")
  if(EXISTS "${BINARY_DIR}/consumer_asio")
    run("${BINARY_DIR}/consumer_asio")
  endif()
  if(EXISTS "${BINARY_DIR}/consumer_observe")
    run("${BINARY_DIR}/consumer_observe")
  endif()
  message(STATUS "consumer ran and exited 0")
elseif(MODE STREQUAL "pkg_config")
  # Compiles SOURCE with the flags pkg-config gives for PACKAGES of the install in PREFIX
  # (and the main build's compiler and flags), then runs it.
  find_program(pkg_config NAMES pkg-config pkgconf REQUIRED)
  file(GLOB pc_files "${PREFIX}/lib/pkgconfig/stakker.pc" "${PREFIX}/lib/*/pkgconfig/stakker.pc"
       "${PREFIX}/lib64/pkgconfig/stakker.pc")
  if(NOT pc_files)
    message(FATAL_ERROR "no stakker.pc was installed under ${PREFIX}")
  endif()
  list(GET pc_files 0 pc_file)
  get_filename_component(pc_dir "${pc_file}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  execute_process(COMMAND "${pkg_config}" --cflags --libs ${PACKAGES} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --cflags --libs ${PACKAGES} failed")
  endif()
  message(STATUS "pkg-config: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  # Shared libraries (BUILD_SHARED_LIBS=ON) are found at run time through an rpath to the
  # install's libdir, as a user of a private prefix would link; harmless when static.
  execute_process(COMMAND "${pkg_config}" --variable=libdir stakker RESULT_VARIABLE rc
                  OUTPUT_VARIABLE libdir OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --variable=libdir stakker failed")
  endif()
  list(APPEND flags "-Wl,-rpath,${libdir}")
  separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
  separate_arguments(link_flags UNIX_COMMAND "${EXE_LINKER_FLAGS}")
  file(MAKE_DIRECTORY "${BINARY_DIR}")
  run("${CXX_COMPILER}" ${cxx_flags} "${SOURCE}" -o "${BINARY_DIR}/consumer" ${flags}
      ${link_flags})
  run("${BINARY_DIR}/consumer")
  message(STATUS "consumer built with pkg-config ran and exited 0")
elseif(MODE STREQUAL "fail_configure" OR MODE STREQUAL "configure")
  set(args -S "${SOURCE_DIR}" -B "${BINARY_DIR}" --fresh -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" ${ARGS})
  if(MAKE_PROGRAM)
    list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  if(PREFIX)
    list(APPEND args "-DCMAKE_PREFIX_PATH=${PREFIX}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
         -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
  endif()
  string(JOIN " " shown ${args})
  message(STATUS "running: cmake ${shown}")
  execute_process(COMMAND "${CMAKE_COMMAND}" ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  message("${out}")
  if(MODE STREQUAL "fail_configure" AND rc EQUAL 0)
    message(FATAL_ERROR "configuring succeeded; it should have failed")
  elseif(MODE STREQUAL "configure" AND NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring failed (${rc})")
  endif()
  string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}")  # messages wrap lines
  if(NOT flat MATCHES "${EXPECT}")
    message(FATAL_ERROR "the output does not match '${EXPECT}'")
  endif()
  message(STATUS "configure output as expected")
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()
