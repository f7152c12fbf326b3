// Phase names: see bench_config.hpp.
#include "tools/bench_config.hpp"

namespace tessel::tools {

std::string_view to_string(bench_phase phase) noexcept {
  switch (phase) {
    case bench_phase::load: return "load";
    case bench_phase::compact: return "compact";
    case bench_phase::get: return "get";
    case bench_phase::get_missing: return "get_missing";
    case bench_phase::prefix_scan: return "prefix_scan";
    case bench_phase::range_scan: return "range_scan";
    case bench_phase::full_scan: return "full_scan";
    case bench_phase::put_overwrite: return "put_overwrite";
    case bench_phase::put_insert: return "put_insert";
    case bench_phase::erase: return "erase";
  }
  return "unknown";
}

}  // namespace tessel::tools
