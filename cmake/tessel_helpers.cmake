# Build helpers shared by every tessel CMakeLists.txt.
#
# Defines the INTERFACE targets that carry the project's compile settings, and the functions the folders use:
#   tessel_add_library(NAME <name> SOURCES <files...> [DEPS <public deps...>] [PRIVATE_DEPS <deps...>])
#   tessel_add_test(NAME <name> SOURCES <files...> [LABELS <labels...>] [LIBS <extra libs...>])
#   tessel_add_bench(NAME <name> SOURCES <files...> [LIBS <extra libs...>])
#   tessel_apply_defaults(<target>)
#
# Settings live on INTERFACE targets linked PRIVATE (never global CMAKE_CXX_FLAGS), so a consumer that
# adds tessel with add_subdirectory or find_package gets none of our warnings.
include_guard(GLOBAL)

# ---- tessel_warnings: the GCC 12 set from docs/STYLE (style-anchors §10) --------------------------------------
# The whole set compiles cleanly around the GoogleTest 1.12 and Google Benchmark 1.7 macros (checked on
# TEST/TEST_F/TYPED_TEST/TEST_P/EXPECT_THAT/EXPECT_DEATH and BENCHMARK/BENCHMARK_MAIN), so tests and
# benchmarks get the same set as the libraries.
add_library(tessel_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(tessel_warnings INTERFACE
    -Wall -Wextra -Wpedantic
    -Wconversion -Wsign-conversion -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
    -Wnull-dereference -Wdouble-promotion -Wformat=2
    -Wimplicit-fallthrough=5 -Wduplicated-cond -Wduplicated-branches
    -Wlogical-op -Wuseless-cast -Wextra-semi -Wcast-align=strict -Wundef
    -Wmissing-declarations)
  if(CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 at -O3 warns that "literal" + std::string may overlap in memcpy (GCC bug 105651, fixed in 13);
    # the release preset builds the tests too, so the false positive would stop it.
    target_compile_options(tessel_warnings INTERFACE -Wno-restrict)
  endif()
elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # The clang-debug preset exists for -Wthread-safety; the rest is the clang spelling of the GCC set.
  target_compile_options(tessel_warnings INTERFACE
    -Wall -Wextra -Wpedantic
    -Wconversion -Wsign-conversion -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
    -Wnull-dereference -Wdouble-promotion -Wformat=2
    -Wimplicit-fallthrough -Wextra-semi -Wcast-align -Wundef
    -Wmissing-declarations -Wthread-safety)
endif()
if(TESSEL_WERROR)
  target_compile_options(tessel_warnings INTERFACE -Werror)
endif()

# ---- tessel_sanitizers: TESSEL_SANITIZE is a list, "address;undefined" or "thread" ---------------------------
set(_tessel_known_sanitizers address undefined thread)
set(TESSEL_SANITIZER_FLAGS "")       # compile
set(TESSEL_SANITIZER_LINK_FLAGS "")  # link
if(TESSEL_SANITIZE)
  foreach(s IN LISTS TESSEL_SANITIZE)
    if(NOT s IN_LIST _tessel_known_sanitizers)
      message(FATAL_ERROR "TESSEL_SANITIZE: unknown sanitizer '${s}' (known: ${_tessel_known_sanitizers})")
    endif()
  endforeach()
  if("thread" IN_LIST TESSEL_SANITIZE AND "address" IN_LIST TESSEL_SANITIZE)
    message(FATAL_ERROR "TESSEL_SANITIZE: thread and address cannot be combined; use two build trees")
  endif()
  list(JOIN TESSEL_SANITIZE "," _tessel_san_joined)
  set(TESSEL_SANITIZER_FLAGS "-fsanitize=${_tessel_san_joined}")
  set(TESSEL_SANITIZER_LINK_FLAGS "-fsanitize=${_tessel_san_joined}")
  if("undefined" IN_LIST TESSEL_SANITIZE)
    # Make UBSan findings fatal at the point of the bug (halt_on_error in the test presets covers the rest).
    list(APPEND TESSEL_SANITIZER_FLAGS -fno-sanitize-recover=all)
  endif()
endif()
add_library(tessel_sanitizers INTERFACE)
if(TESSEL_SANITIZER_FLAGS)
  target_compile_options(tessel_sanitizers INTERFACE ${TESSEL_SANITIZER_FLAGS} -fno-omit-frame-pointer)
  target_link_options(tessel_sanitizers INTERFACE ${TESSEL_SANITIZER_LINK_FLAGS})
endif()

# ---- tessel_defaults: language level, ISA floor, debug checks -------------------------------------------------
add_library(tessel_defaults INTERFACE)
target_compile_features(tessel_defaults INTERFACE cxx_std_20)
target_compile_options(tessel_defaults INTERFACE
  # x86-64 only. Never -march=native: the CI machine may differ from the one that built. SSE4.2 and POPCNT
  # are on every x86-64 server CPU since 2008.
  -msse4.2 -mpopcnt)
target_compile_definitions(tessel_defaults INTERFACE
  # Checked operator[], front() and the like in debug trees; no ABI change, unlike _GLIBCXX_DEBUG, so the
  # prebuilt Debian gtest, benchmark and TBB still link.
  $<$<CONFIG:Debug>:_GLIBCXX_ASSERTIONS>)

# Applies warnings, sanitizers and the defaults above to <target> (tools, tests, benchmarks, libraries).
function(tessel_apply_defaults target)
  # BUILD_INTERFACE: the settings must not leak into the exported package (static libraries export their
  # private link dependencies).
  target_link_libraries(${target} PRIVATE
    $<BUILD_INTERFACE:tessel_defaults> $<BUILD_INTERFACE:tessel_warnings> $<BUILD_INTERFACE:tessel_sanitizers>)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
endfunction()

# A module library: static, or INTERFACE when it has no SOURCES (a header-only module such as index/, whose
# tree is a template). Repo-relative internal includes ("common/x.hpp") while building, include/ for the
# public headers, C++20 for whoever links it.
function(tessel_add_library)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS")
  if(NOT arg_NAME)
    message(FATAL_ERROR "tessel_add_library: NAME is required")
  endif()
  if(arg_SOURCES)
    add_library(${arg_NAME} STATIC ${arg_SOURCES})
    set(scope PUBLIC)
  else()
    add_library(${arg_NAME} INTERFACE)
    set(scope INTERFACE)
  endif()
  # Exported and aliased as tessel::<module> (tessel_index -> tessel::index).
  string(REGEX REPLACE "^tessel_" "" export_name "${arg_NAME}")
  add_library(tessel::${export_name} ALIAS ${arg_NAME})
  set_target_properties(${arg_NAME} PROPERTIES EXPORT_NAME ${export_name})
  target_include_directories(${arg_NAME} ${scope}
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${arg_NAME} ${scope} cxx_std_20)
  target_link_libraries(${arg_NAME} ${scope} ${arg_DEPS})
  if(arg_SOURCES)
    target_link_libraries(${arg_NAME} PRIVATE ${arg_PRIVATE_DEPS})
    if(TESSEL_SANITIZER_LINK_FLAGS)
      # An instrumented static library needs the sanitizer runtime wherever it is linked, the installed
      # package's consumers included.
      target_link_options(${arg_NAME} INTERFACE ${TESSEL_SANITIZER_LINK_FLAGS})
    endif()
    tessel_apply_defaults(${arg_NAME})
  endif()
  set_property(GLOBAL APPEND PROPERTY TESSEL_MODULE_LIBRARIES ${arg_NAME})
endfunction()

# A GoogleTest executable registered test by test with ctest. Default label: unit. Other labels in use:
# crash, concurrency, slow. Targets labelled concurrency also join the tessel_concurrency_tests target,
# which is what the tsan tree builds.
function(tessel_add_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME" "SOURCES;LABELS;LIBS")
  if(NOT arg_NAME OR NOT arg_SOURCES)
    message(FATAL_ERROR "tessel_add_test: NAME and SOURCES are required")
  endif()
  if(NOT arg_LABELS)
    set(arg_LABELS unit)
  endif()
  add_executable(${arg_NAME} ${arg_SOURCES})
  target_link_libraries(${arg_NAME} PRIVATE tessel_internal GTest::gtest_main GTest::gmock ${arg_LIBS})
  tessel_apply_defaults(${arg_NAME})
  # PRE_TEST: list the tests when ctest runs, not after each link. That keeps builds quick and runs the
  # listing under the test preset's sanitizer options.
  # TEST_PREFIX "<name>.": ctest names are <executable>.<gtest name>, unique even when two executables
  # build the same source (a unit and a slow variant); ctest sets properties by name, so duplicates would
  # share labels.
  # NO_PRETTY_*: keep GoogleTest's own names ("Suite/Param.Test", "Typed/0.Test"), the ones --gtest_filter
  # takes; CMake 3.25 otherwise appends "  # GetParam() = ..." to tests with named parameters.
  list(GET arg_LABELS 0 first_label)
  gtest_discover_tests(${arg_NAME}
    DISCOVERY_MODE PRE_TEST
    TEST_PREFIX "${arg_NAME}."
    NO_PRETTY_TYPES NO_PRETTY_VALUES
    TEST_LIST ${arg_NAME}_TESTS
    PROPERTIES LABELS ${first_label}
    DISCOVERY_TIMEOUT 60)
  # CMake 3.25's gtest_discover_tests flattens a list passed in PROPERTIES, so "unit;concurrency" would
  # keep only "unit" (escaping does not survive either). Set the whole list from a script ctest runs right
  # after the discovery script, on the test names discovery stored in <name>_TESTS. The same script makes
  # a GTEST_SKIP show as "Skipped" in ctest, not "Passed".
  set(labels_script ${CMAKE_CURRENT_BINARY_DIR}/${arg_NAME}_labels.cmake)
  file(WRITE ${labels_script}
    "# Generated by tessel_add_test (cmake/tessel_helpers.cmake).\n"
    "if(${arg_NAME}_TESTS)\n"
    "  set_tests_properties(\${${arg_NAME}_TESTS} PROPERTIES LABELS \"${arg_LABELS}\"\n"
    "    SKIP_REGULAR_EXPRESSION \"\\\\[  SKIPPED \\\\]\")\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_script})
  if(TARGET tessel_all_tests)
    add_dependencies(tessel_all_tests ${arg_NAME})
  endif()
  if("concurrency" IN_LIST arg_LABELS AND TARGET tessel_concurrency_tests)
    add_dependencies(tessel_concurrency_tests ${arg_NAME})
  endif()
endfunction()

# A Google Benchmark executable. A source provides main (BENCHMARK_MAIN()), or LIBS adds
# benchmark::benchmark_main.
function(tessel_add_bench)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME" "SOURCES;LIBS")
  if(NOT arg_NAME OR NOT arg_SOURCES)
    message(FATAL_ERROR "tessel_add_bench: NAME and SOURCES are required")
  endif()
  add_executable(${arg_NAME} ${arg_SOURCES})
  target_link_libraries(${arg_NAME} PRIVATE tessel_internal benchmark::benchmark ${arg_LIBS})
  tessel_apply_defaults(${arg_NAME})
endfunction()
