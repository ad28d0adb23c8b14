# SPDX-License-Identifier: MIT OR Apache-2.0
# The optional parts of the build: the Asio bridge, tests, benchmarks and examples. Each is
# a cache variable AUTO (the default), ON or OFF:
#   AUTO  built when stakker is the top-level project and what it needs is found;
#         otherwise skipped, with a one-line status saying why and how to enable it;
#   ON    built; a missing requirement is a configure error naming it;
#   OFF   skipped.
# After stakker_optional(VAR ...) the variable VAR (a normal variable, shadowing the cache)
# is ON or OFF, for the rest of the build to test.

# stakker_wanted(<var> <out>): whether <var> asks for its part (ON, or AUTO at top level),
# so that its requirements are looked for only then.
function(stakker_wanted var out)
  string(TOUPPER "${${var}}" value)
  if(value STREQUAL "AUTO")
    set(${out} ${STAKKER_TOP_LEVEL} PARENT_SCOPE)
  elseif(value)
    set(${out} ON PARENT_SCOPE)
  else()
    set(${out} OFF PARENT_SCOPE)
  endif()
endfunction()

# stakker_optional(<var> <what> <found> <missing> <how>)
#   <what>     the part, as the status line names it
#   <found>    whether its requirements were found (a boolean value)
#   <missing>  what is missing when they were not
#   <how>      how to get it (a Debian package, an option)
function(stakker_optional var what found missing how)
  set(value "${${var}}")
  string(TOUPPER "${value}" value)
  if(value STREQUAL "AUTO")
    if(NOT STAKKER_TOP_LEVEL)
      message(STATUS "stakker: ${what} skipped (stakker is a subproject; -D${var}=ON to build)")
      set(${var} OFF PARENT_SCOPE)
    elseif(found)
      set(${var} ON PARENT_SCOPE)
    else()
      message(STATUS "stakker: ${what} skipped: ${missing} not found (${how})")
      set(${var} OFF PARENT_SCOPE)
    endif()
  elseif(value)
    if(NOT found)
      message(FATAL_ERROR "stakker: ${what} needs ${missing}, which was not found (${how}; "
                          "or -D${var}=OFF)")
    endif()
    set(${var} ON PARENT_SCOPE)
  else()
    message(STATUS "stakker: ${what} off (-D${var}=ON to build)")
    set(${var} OFF PARENT_SCOPE)
  endif()
endfunction()
