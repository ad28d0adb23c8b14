# SPDX-License-Identifier: MIT OR Apache-2.0
# The memcheck tests (STAKKER_MEMCHECK, set by the debug preset; run by `ctest --preset
# valgrind` and `tools/dev test valgrind`, and left out of `ctest --preset debug`): the unit
# tests, one test per folder of tests/, the Asio bridge's tests and both demos, each under
# valgrind's memcheck, on the plain g++ -O0 build. Each has the label `memcheck` and fails
# on its own failure, on any memcheck error and on any definite leak (valgrind's exit code
# 99, and its "ERROR SUMMARY" line for the demos, whose checks are output patterns). No
# suppressions: none is needed.
find_program(STAKKER_VALGRIND valgrind)
if(NOT STAKKER_VALGRIND)
  message(STATUS "valgrind not found: no memcheck tests (apt-get install valgrind)")
  return()
endif()

# --child-silent-after-fork: the children of gtest's death tests die on purpose, and only
# their exit and message are checked (their own memory at the abort is no leak).
set(stakker_memcheck_command ${STAKKER_VALGRIND} --tool=memcheck --error-exitcode=99
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
  --child-silent-after-fork=yes --num-callers=40)
set(stakker_memcheck_fails "ERROR SUMMARY: [1-9]")

# Left out under memcheck, each with its reason (a gtest negative filter, by area):
# - coro: the five coro_stack.many_awaits_* repeat one ready await 1M-10M times to prove
#   the transfer depth stays bounded (no stack overflow at -O0), which the plain and ASan
#   runs prove; under memcheck they take 8 of the area's 8.5 minutes. The same bounce
#   through the runtime queue is memchecked by coro_stack.a_chain_of_tasks_nested_*,
#   spawn_stream.a_long_generator_*, when_all.many_children_* and sleep.many_zero_sleeps_*.
set(stakker_memcheck_exclude_coro "coro_stack.many_awaits_*")
# - loop, chat: the tests that run out of descriptors (RLIMIT_NOFILE lowered, the rest
#   filled): valgrind keeps a descriptor limit of its own and refuses descriptors past it
#   in its own way, so accept does not fail as the kernel makes it; they run in the clang
#   leg (and `tools/dev test debug`). The chat closing-timeout test pushes 1 MiB through
#   the room line by line before it starts, which memcheck is too slow for in its limit.
set(stakker_memcheck_exclude_loop
  "tcp_listener_limits.accept_failing_*:tcp_listener_limits.the_retry_delay_*:tcp_listener_limits.a_slot_may_outlive_*")
set(stakker_memcheck_exclude_chat
  "chat_server.accept_failing_with_emfile_*:chat_server.a_client_that_half_closes_and_never_reads_*")

# The gtest filter selecting the tests of tests/<area>/: their suites, read from the
# sources (configuring again after a test file changes, so that a new suite is included).
function(stakker_memcheck_filter out area)
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${area}/*_test.cpp)
  set(suites "")
  foreach(f IN LISTS sources)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${f})
    file(STRINGS ${f} lines REGEX "^TEST(_F)?\\([A-Za-z0-9_]+,")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^TEST(_F)?\\(([A-Za-z0-9_]+),.*" "\\2.*" suite "${line}")
      list(APPEND suites ${suite})
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES suites)
  list(JOIN suites ":" filter)
  if(DEFINED stakker_memcheck_exclude_${area})
    string(APPEND filter "-${stakker_memcheck_exclude_${area}}")
  endif()
  set(${out} "${filter}" PARENT_SCOPE)
endfunction()

# stakker_tests: one memcheck test per area it holds.
if(TARGET stakker_tests)
  file(GLOB stakker_memcheck_areas LIST_DIRECTORIES true ${PROJECT_SOURCE_DIR}/tests/*)
  foreach(dir IN LISTS stakker_memcheck_areas)
    get_filename_component(area ${dir} NAME)
    if(NOT IS_DIRECTORY ${dir} OR
       area MATCHES "^(alloc|asio|compile_fail|consumer|nats|observe|spdlog)$")
      continue()  # not in stakker_tests (see tests/CMakeLists.txt)
    endif()
    if(STAKKER_TEST_AREAS AND NOT area IN_LIST STAKKER_TEST_AREAS)
      continue()
    endif()
    stakker_memcheck_filter(filter ${area})
    if(filter STREQUAL "")
      continue()
    endif()
    add_test(NAME memcheck.${area}
      COMMAND ${stakker_memcheck_command} $<TARGET_FILE:stakker_tests> --gtest_filter=${filter})
    set_tests_properties(memcheck.${area} PROPERTIES
      LABELS memcheck TIMEOUT 900 FAIL_REGULAR_EXPRESSION "${stakker_memcheck_fails}"
      # The long randomized tests, shortened: still every phase and kind of tree, in ~30 s;
      # the shards' 4 x 1M calls, 4 x 20k (the rings still fill and spill).
      ENVIRONMENT "STAKKER_STRESS_SECONDS=2;STAKKER_MODEL_OPS=200000;STAKKER_SHARD_CALLS=20000")
  endforeach()
endif()

# The Asio bridge's tests (stakker_tests' loop tests and the bridge share the epoll loop).
if(TARGET stakker_asio_tests)
  add_test(NAME memcheck.asio COMMAND ${stakker_memcheck_command} $<TARGET_FILE:stakker_asio_tests>)
  set_tests_properties(memcheck.asio PROPERTIES
    LABELS memcheck TIMEOUT 900 FAIL_REGULAR_EXPRESSION "${stakker_memcheck_fails}")
endif()

# The NATS bridge's tests, against their real nats-server (not run under valgrind: only the
# test binary is).
if(TARGET stakker_nats_tests)
  add_test(NAME memcheck.nats COMMAND ${stakker_memcheck_command} $<TARGET_FILE:stakker_nats_tests>)
  # The JetStream durability test publishes 100k messages; 5k under memcheck.
  set_tests_properties(memcheck.nats PROPERTIES
    LABELS memcheck TIMEOUT 900 FAIL_REGULAR_EXPRESSION "${stakker_memcheck_fails}"
    ENVIRONMENT "STAKKER_JS_MESSAGES=5000")
endif()

# The observability part's tests (its sinks, trace export and endpoint), but for the
# real-Prometheus scrapes: Prometheus gives each scrape one second, which the endpoint
# under memcheck does not always make; the endpoint's own tests are memchecked here, and
# the scrapes run in every other leg.
if(TARGET stakker_observe_tests)
  add_test(NAME memcheck.observe
    COMMAND ${stakker_memcheck_command} $<TARGET_FILE:stakker_observe_tests>
      --gtest_filter=-prometheus_scrape.*)
  set_tests_properties(memcheck.observe PROPERTIES
    LABELS memcheck TIMEOUT 900 FAIL_REGULAR_EXPRESSION "${stakker_memcheck_fails}")
endif()

# The demos, with the checks of their example tests (examples/CMakeLists.txt), on a smaller
# load for the Asio one (about 40 times slower under memcheck).
if(TARGET stakker_demo)
  add_test(NAME memcheck.chat_demo
    COMMAND ${stakker_memcheck_command} $<TARGET_FILE:stakker_demo> --clients 20 --messages 200)
  set_tests_properties(memcheck.chat_demo PROPERTIES
    LABELS memcheck TIMEOUT 600 FAIL_REGULAR_EXPRESSION "${stakker_memcheck_fails}"
    PASS_REGULAR_EXPRESSION "server: 20 connections, 4000 messages.*shutdown: Actor stopped.*ERROR SUMMARY: 0 errors")
  # Over two shards (examples/chat/sharded.hpp).
  # With the shards traced, when the demo can write the trace (stakker::observe).
  set(stakker_memcheck_trace "")
  if(TARGET stakker_observe)
    set(stakker_memcheck_trace --trace-events 4096 --trace
      ${CMAKE_CURRENT_BINARY_DIR}/memcheck_chat_trace.json)
  endif()
  add_test(NAME memcheck.chat_demo_threads_2
    COMMAND ${stakker_memcheck_command} $<TARGET_FILE:stakker_demo> --threads 2 --clients 20
      --messages 200 ${stakker_memcheck_trace})
  set_tests_properties(memcheck.chat_demo_threads_2 PROPERTIES
    LABELS memcheck TIMEOUT 600 FAIL_REGULAR_EXPRESSION "${stakker_memcheck_fails}"
    PASS_REGULAR_EXPRESSION "threads: 2 server threads.*server: 20 connections, 4000 messages.*shutdown: Actor stopped.*ERROR SUMMARY: 0 errors")
endif()
if(TARGET stakker_asio_demo)
  # 10 clients x (2 x 20 pairs + 4 DEL + QUIT) = 450 requests.
  add_test(NAME memcheck.asio_demo
    COMMAND ${stakker_memcheck_command} $<TARGET_FILE:stakker_asio_demo>
      --clients 10 --requests 20 --value-size 4096)
  set_tests_properties(memcheck.asio_demo PROPERTIES
    LABELS memcheck TIMEOUT 600 FAIL_REGULAR_EXPRESSION "${stakker_memcheck_fails}"
    PASS_REGULAR_EXPRESSION "verified: 200 values byte for byte, 0 failures\nserver: 10 connections, 450 requests, 0 rejected, 0 broken, 0 keys left\nshutdown: Actor stopped.*ERROR SUMMARY: 0 errors")
endif()
