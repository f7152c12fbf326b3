// `tessel recover PATH [--apply]`: reports what is wrong with a durable store and which of it opening the
// store repairs (store/store_recover.hpp); with --apply, repairs it and checks it again. Writes nothing
// without --apply. Exit 0 when the store is healthy or was repaired, 3 when damage remains.
// docs/tools.md §recover.
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "store/store_recover.hpp"
#include "tools/command_registry.hpp"
#include "tools/progress_meter.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {
namespace {

struct recover_options {
  std::string path;
  bool apply = false;
  bool json = false;
};

int run(const recover_options& o) {
  progress_meter meter("examining", o.json);
  auto report = recover_store(o.path, o.apply, [&](std::uint64_t blocks) { meter.update(blocks, 0); });
  meter.finish();
  if (!report) return fail("recover", report.error());
  const recover_report& r = *report;
  const bool healthy_after = r.after && r.after->problems.empty();
  const bool ok = r.damage.empty() && (!r.applied || healthy_after);
  if (o.json) {
    nlohmann::json j = {{"path", o.path},
                        {"backend", r.backend},
                        {"repairable", r.repairable},
                        {"damage", r.damage},
                        {"applied", r.applied},
                        {"actions", r.actions},
                        {"ok", ok},
                        {"needs_repair", !r.repairable.empty() && !r.applied}};
    if (r.after) j["problems_after"] = r.after->problems;
    std::cout << j.dump(2) << '\n';
    return ok ? 0 : static_cast<int>(errc::corruption);
  }
  std::cout << "store            " << o.path << " (" << r.backend << ")\n";
  for (const std::string& f : r.repairable) std::cout << "found            " << f << '\n';
  for (const std::string& d : r.damage) std::cout << "DAMAGE           " << d << '\n';
  if (!r.damage.empty()) {
    std::cout << "cannot repair: the tree in use is damaged" << (o.apply ? "; nothing was written\n" : "\n");
    return static_cast<int>(errc::corruption);
  }
  if (!o.apply) {
    std::cout << (r.repairable.empty() ? "nothing to repair\n" : "run with --apply to repair\n");
    return 0;
  }
  for (const std::string& a : r.actions) std::cout << "did              " << a << '\n';
  if (r.after) {
    for (const std::string& p : r.after->problems) std::cout << "PROBLEM          " << p << '\n';
  }
  std::cout << (healthy_after ? "healthy\n" : "DAMAGED\n");
  return ok ? 0 : static_cast<int>(errc::corruption);
}

run_function setup(CLI::App& app) {
  auto o = std::make_shared<recover_options>();
  app.add_option("path", o->path, "store directory")->required();
  app.add_flag("--apply", o->apply, "repair what can be repaired (without it nothing is written)");
  app.add_flag("--json", o->json, "print one JSON object");
  return [o] { return run(*o); };
}

const command_registration registration{
    {"recover", "report what open would repair in a store (previous meta, torn log, leaks); --apply repairs it",
     &setup}};

}  // namespace
}  // namespace tessel::tools
