# Third-party packages, all from Debian (scripts/setup.sh installs them); nothing is vendored.
# Found once here, so every folder can use the imported targets. Imported targets' include directories are
# SYSTEM includes (CMake's default), so the strict warnings never fire inside them.
include_guard(GLOBAL)

# Public: include/tessel/error.hpp uses tl::expected, so the installed package finds it too
# (cmake/tesselConfig.cmake.in).
find_package(tl-expected 1.0 CONFIG REQUIRED)  # tl::expected
find_package(PkgConfig REQUIRED)
pkg_check_modules(xxhash REQUIRED IMPORTED_TARGET libxxhash)  # PkgConfig::xxhash (checksums, common/)
# The pmem backend (pmem/): libpmemobj's C API, libpmem for flushes, libpmempool for `tessel check`.
pkg_check_modules(pmemobj REQUIRED IMPORTED_TARGET libpmemobj)    # PkgConfig::pmemobj
pkg_check_modules(pmem REQUIRED IMPORTED_TARGET libpmem)          # PkgConfig::pmem
pkg_check_modules(pmempool REQUIRED IMPORTED_TARGET libpmempool)  # PkgConfig::pmempool
# NUMA topology, placement and binding (numa/).
pkg_check_modules(hwloc REQUIRED IMPORTED_TARGET hwloc)  # PkgConfig::hwloc
# The state graph's SHA-256 ids (graph/).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)  # OpenSSL::Crypto

if(TESSEL_BUILD_TOOLS)
  find_package(CLI11 CONFIG REQUIRED)          # CLI11::CLI11
  find_package(nlohmann_json CONFIG REQUIRED)  # nlohmann_json::nlohmann_json
  # Peers of `tessel bench --durable`.
  pkg_check_modules(lmdb REQUIRED IMPORTED_TARGET lmdb)        # PkgConfig::lmdb
  pkg_check_modules(rocksdb REQUIRED IMPORTED_TARGET rocksdb)  # PkgConfig::rocksdb
endif()
if(TESSEL_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)      # benchmark::benchmark, benchmark::benchmark_main
endif()
if(TESSEL_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)          # GTest::gtest, GTest::gtest_main, GTest::gmock
endif()

# Still to be found when code first uses them (setup.sh installs them already): TBB (CONFIG), jemalloc.
# Link them PRIVATE: they must never appear in include/tessel/.
