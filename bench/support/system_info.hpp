// Facts about the machine and build that make benchmark numbers comparable: CPU model, TSC flags, transparent
// huge pages, load average, build type. Read from /proc and /sys; a fact that cannot be read is left empty.
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace tessel::bench {

/// "model name" from /proc/cpuinfo.
[[nodiscard]] std::string cpu_model();
/// True when /proc/cpuinfo lists both constant_tsc and nonstop_tsc (the TSC ticks at one rate in every state).
[[nodiscard]] bool has_invariant_tsc();
/// The bracketed mode in /sys/kernel/mm/transparent_hugepage/enabled: "always", "madvise" or "never".
[[nodiscard]] std::string transparent_huge_pages_mode();
/// The first three fields of /proc/loadavg: other work on the machine skews the numbers.
[[nodiscard]] std::string load_average();
/// AnonHugePages of this process (/proc/self/smaps_rollup), in bytes.
[[nodiscard]] std::optional<std::size_t> anon_huge_page_bytes();
/// Build type the tool was configured with (CMake's, through TESSEL_BUILD_TYPE), e.g. "Release".
[[nodiscard]] std::string build_type();
/// True for an NDEBUG build without sanitizers.
[[nodiscard]] bool optimized_build() noexcept;
/// "g++ 12.2.0" or similar.
[[nodiscard]] std::string compiler();

}  // namespace tessel::bench
