// Prints `tessel bench` results: the human table with its goals section, or the --json document (schema in
// docs/tools.md).
//
// Thread safety: stateless.
#pragma once

#include <iosfwd>
#include <vector>

#include "tools/bench_config.hpp"
#include "tools/bench_results.hpp"

namespace tessel::tools {

void print_human(std::ostream& out, const bench_config& config, const bench_context& context,
                 const std::vector<kind_result>& results);
void print_json(std::ostream& out, const bench_config& config, const bench_context& context,
                const std::vector<kind_result>& results);

}  // namespace tessel::tools
