#include "tools/shard_directories.hpp"

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "log/log_reader.hpp"
#include "store/cross_shard_batch.hpp"
#include "store/shard_manifest.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {

namespace {

/// The coordinator log of cross-shard batches (`DIR/txn/`): its records are the batches a shard may still
/// need (older ones were deleted with their segments, from the front); each must decode.
nlohmann::json coordinator_facts(const std::filesystem::path& dir, const detail::shard_manifest& m) {
  std::uint64_t records = 0;
  auto after = detail::coordinator_scan_start(dir / "txn");
  if (!after) return {{"records", records}, {"problem", after.error().to_string()}};
  auto scan = oplog::scan_log(dir / "txn", m.id, *after, [&](const oplog::record_view& r) -> result<void> {
    ++records;
    auto parts = detail::decode_batch(as_string_view(r.value));
    if (!parts)
      return make_error(parts.error().code(),
                        "batch " + std::to_string(r.seq) + ": " + std::string(parts.error().message()));
    for (const detail::batch_part& p : *parts) {
      if (p.shard >= m.shards) {
        return make_error(errc::corruption,
                          "batch " + std::to_string(r.seq) + " names shard " + std::to_string(p.shard));
      }
    }
    return {};
  });
  nlohmann::json j = {{"records", records}};
  if (!scan) {
    j["problem"] = scan.error().to_string();
  } else if (scan->damage) {
    j["torn_tail"] = scan->damage->reason;  // a crash mid-append: the next open cuts it
  }
  return j;
}

}  // namespace

std::optional<int> run_over_shards(std::string_view command, const std::string& path, bool json,
                                   per_store_command each) {
  const std::filesystem::path dir(path);
  auto manifest = detail::read_shard_manifest(dir);
  if (!manifest) return fail(command, manifest.error());
  if (!*manifest) return std::nullopt;
  const detail::shard_manifest& m = **manifest;
  const nlohmann::json coordinator = coordinator_facts(dir, m);
  int worst = coordinator.contains("problem") ? static_cast<int>(errc::corruption) : 0;
  nlohmann::json j = {{"path", path},
                      {"shards", m.shards},
                      {"routing", detail::to_string(m.rule)},
                      {"store_id", hex_id(m.id)},
                      {"coordinator_log", coordinator},
                      {"per_shard", nlohmann::json::array()}};
  if (!json) {
    std::cout << "sharded store    " << path << ": " << m.shards << " shards routed by " << detail::to_string(m.rule)
              << ", id " << j["store_id"].get<std::string>() << '\n'
              << "coordinator log  " << coordinator["records"].get<std::uint64_t>() << " cross-shard batches kept";
    if (coordinator.contains("torn_tail")) std::cout << ", torn tail (the next open cuts it)";
    std::cout << '\n';
    if (coordinator.contains("problem")) {
      std::cout << "PROBLEM          coordinator log: " << coordinator["problem"].get<std::string>() << '\n';
    }
  }
  for (std::uint32_t i = 0; i < m.shards; ++i) {
    const std::string shard = (dir / detail::shard_directory_name(i)).string();
    std::ostringstream out;
    const int code = each(shard, json, out);
    worst = std::max(worst, code);
    if (json) {
      auto parsed = nlohmann::json::parse(out.str(), nullptr, false);
      j["per_shard"].push_back(parsed.is_discarded() ? nlohmann::json{{"path", shard}, {"exit_code", code}} : parsed);
    } else {
      std::cout << "\n== " << detail::shard_directory_name(i) << " ==\n" << out.str();
    }
  }
  if (json) std::cout << j.dump(2) << '\n';
  return worst;
}

run_function setup_store_command(CLI::App& app, std::string_view command, per_store_command each) {
  struct options {
    std::string path;
    bool json = false;
  };
  auto o = std::make_shared<options>();
  app.add_option("path", o->path, "store directory")->required();
  app.add_flag("--json", o->json, "print one JSON object");
  return [o, name = std::string(command), each] {
    if (auto sharded = run_over_shards(name, o->path, o->json, each)) return *sharded;
    return each(o->path, o->json, std::cout);
  };
}

}  // namespace tessel::tools
