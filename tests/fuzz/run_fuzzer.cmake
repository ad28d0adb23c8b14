# SPDX-License-Identifier: MIT OR Apache-2.0
# Runs one libFuzzer target for a bounded time on a copy of its seed corpus, so that the
# repository is never written: the seeds are copied into WORK/corpus (which keeps what earlier
# runs found), crash inputs and the output to WORK/. Fails on any crash, leak, timeout or
# broken property.
#   cmake -DFUZZER=<exe> -DSEEDS=<tests/fuzz/corpus/name> -DWORK=<dir> -DSECONDS=<n> -P this
foreach(var FUZZER SEEDS WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: ${var} is not set")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORK}/corpus)
file(GLOB seeds ${SEEDS}/*)
if(NOT seeds)
  message(FATAL_ERROR "run_fuzzer.cmake: no seed inputs in ${SEEDS}")
endif()
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
# libFuzzer's output goes to WORK/fuzz.log; its final statistics are printed (ctest -V).
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -print_final_stats=1
          -artifact_prefix=${WORK}/ ${WORK}/corpus
  OUTPUT_FILE ${WORK}/fuzz.log ERROR_FILE ${WORK}/fuzz.log
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(READ ${WORK}/fuzz.log log)
  string(LENGTH "${log}" length)
  if(length GREATER 8000)
    math(EXPR from "${length} - 8000")
    string(SUBSTRING "${log}" ${from} -1 log)
  endif()
  message(FATAL_ERROR "${log}\n${FUZZER} failed (${rc}); the input is saved in ${WORK}/, "
                      "the whole output in ${WORK}/fuzz.log")
endif()
file(STRINGS ${WORK}/fuzz.log stats REGEX "^(stat::|Done )")
list(JOIN stats "\n" stats)
message("${stats}")
