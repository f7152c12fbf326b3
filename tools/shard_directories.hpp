// Store commands over a whole sharded store directory (docs/tools.md §Sharded stores): `tessel info`,
// `tessel check` and `tessel compact` of a directory holding a shard manifest run on every shard, read its
// coordinator log, and answer once.
//
// Thread safety: single-threaded, as the commands.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "tools/command_registry.hpp"

namespace tessel::tools {

/// A command on one store: its facts about `path` to `out` (one JSON object when `json`); its exit code.
using per_store_command = int (*)(const std::string& path, bool json, std::ostream& out);

/// When `path` holds a shard manifest: runs `each` on every shard and prints one answer -- text with a
/// heading per shard, or one JSON object {path, shards, routing, store_id, coordinator_log, per_shard:
/// [each shard's object]} -- and returns the largest of the shards' exit codes; a coordinator log
/// record that does not decode is a problem (exit 3). std::nullopt when `path` is not a sharded store.
[[nodiscard]] std::optional<int> run_over_shards(std::string_view command, const std::string& path, bool json,
                                                 per_store_command each);

/// The setup of a command `tessel COMMAND PATH [--json]` that runs `each` on the store at PATH, or on every
/// shard of a sharded store's directory (run_over_shards).
[[nodiscard]] run_function setup_store_command(CLI::App& app, std::string_view command, per_store_command each);

}  // namespace tessel::tools
