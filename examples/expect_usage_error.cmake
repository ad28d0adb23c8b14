# SPDX-License-Identifier: MIT OR Apache-2.0
# Runs PROGRAM with ARGS (a ;-list) and fails unless it exits with status 2 and says why.
execute_process(COMMAND ${PROGRAM} ${ARGS} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "expected exit status 2 for '${ARGS}', got ${rc}")
endif()
if(NOT err MATCHES "usage|wants a number|needs a value")
  message(FATAL_ERROR "expected an explanation on stderr for '${ARGS}', got: ${err}")
endif()
