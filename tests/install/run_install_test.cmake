# Driver for the install test (cmake -P). Inputs: TESSEL_BUILD_DIR, TESSEL_CONFIG, WORK_DIR,
# CONSUMER_SOURCE_DIR, CONSUMER_GENERATOR, CONSUMER_MAKE_PROGRAM, CONSUMER_CXX_COMPILER.
cmake_minimum_required(VERSION 3.25)

foreach(var TESSEL_BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR CONSUMER_GENERATOR CONSUMER_CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test: ${var} is not set")
  endif()
endforeach()
if("${TESSEL_CONFIG}" STREQUAL "")
  set(TESSEL_CONFIG Debug)
endif()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "run_install_test: failed (${rc}): ${cmd}")
  endif()
endfunction()

step(${CMAKE_COMMAND} --install ${TESSEL_BUILD_DIR} --config ${TESSEL_CONFIG} --prefix ${prefix})

# Internal headers must not be installed.
foreach(internal common index store)
  if(EXISTS ${prefix}/include/${internal})
    message(FATAL_ERROR "run_install_test: internal headers installed under ${prefix}/include/${internal}")
  endif()
endforeach()

set(make_program_arg "")
if(CONSUMER_MAKE_PROGRAM)
  set(make_program_arg -DCMAKE_MAKE_PROGRAM=${CONSUMER_MAKE_PROGRAM})
endif()
step(${CMAKE_COMMAND}
  -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build}
  -G ${CONSUMER_GENERATOR} ${make_program_arg}
  -DCMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER}
  -DCMAKE_BUILD_TYPE=${TESSEL_CONFIG}
  -DCMAKE_PREFIX_PATH=${prefix}
  -DTESSEL_EXPECTED_PREFIX=${prefix})
step(${CMAKE_COMMAND} --build ${consumer_build} --config ${TESSEL_CONFIG})

find_program(app NAMES app PATHS ${consumer_build} ${consumer_build}/${TESSEL_CONFIG} NO_DEFAULT_PATH REQUIRED)
step(${app})
message(STATUS "run_install_test: ok")
