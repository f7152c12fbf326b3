// System and build facts: see system_info.hpp.
#include "bench/support/system_info.hpp"

#include <fstream>
#include <sstream>
#include <string_view>

#ifndef TESSEL_BUILD_TYPE
#define TESSEL_BUILD_TYPE "unknown"
#endif

namespace tessel::bench {
namespace {

// The value of the first "key<spaces>: value" line of a /proc file whose key is `key`.
std::optional<std::string> proc_field(const char* path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const std::size_t colon = line.find(':', key.size());
    if (colon == std::string::npos) continue;
    const std::size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return std::nullopt;
}

}  // namespace

std::string cpu_model() { return proc_field("/proc/cpuinfo", "model name").value_or(""); }

bool has_invariant_tsc() {
  std::istringstream flags(proc_field("/proc/cpuinfo", "flags").value_or(""));
  bool constant = false;
  bool nonstop = false;
  for (std::string flag; flags >> flag;) {
    constant = constant || flag == "constant_tsc";
    nonstop = nonstop || flag == "nonstop_tsc";
  }
  return constant && nonstop;
}

std::string transparent_huge_pages_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const std::size_t open = line.find('[');
  const std::size_t close = line.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return line.substr(open + 1, close - open - 1);
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return in ? a + " " + b + " " + c : "";
}

std::optional<std::size_t> anon_huge_page_bytes() {
  const std::optional<std::string> field = proc_field("/proc/self/smaps_rollup", "AnonHugePages");
  if (!field) return std::nullopt;
  std::istringstream in(*field);
  std::size_t kib = 0;
  if (!(in >> kib)) return std::nullopt;
  return kib * 1024;
}

std::string build_type() {
  const std::string type = TESSEL_BUILD_TYPE;
  return type.empty() ? "none" : type;
}

bool optimized_build() noexcept {
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;
#else
  return true;
#endif
}

std::string compiler() {
#if defined(__clang__)
  return "clang++ " __clang_version__;
#elif defined(__GNUC__)
  return "g++ " __VERSION__;
#else
  return "unknown";
#endif
}

}  // namespace tessel::bench
