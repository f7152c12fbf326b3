// What `tessel info` says about a store's named snapshots, for both backends: read from the snapshot
// catalog beside the tree (store/snapshot_catalog.hpp), without opening the store.
//
// Thread safety: stateless.
#pragma once

#include <filesystem>
#include <iostream>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "store/snapshot_catalog.hpp"

namespace tessel::tools {

/// The catalog of the store in `dir` as JSON: an array of {name, epoch, keys, at_seq, created_unix_ns}, or
/// {"problem": ...} when it cannot be read.
inline nlohmann::json named_snapshots_json(const std::filesystem::path& dir, const detail::catalog_store_id& id) {
  auto records = detail::read_snapshot_catalog(dir, id);
  if (!records) return {{"problem", records.error().to_string()}};
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : *records) {
    out.push_back({{"name", r.name},
                   {"epoch", r.epoch},
                   {"keys", r.key_count},
                   {"at_seq", r.at_seq},
                   {"created_unix_ns", r.created_unix_ns}});
  }
  return out;
}

/// One line of `tessel info`'s text output for named_snapshots_json's result.
inline void print_named_snapshots(const nlohmann::json& named, std::ostream& out) {
  out << "named snapshots  ";
  if (named.is_object()) {
    out << "unreadable: " << named["problem"].get<std::string>() << '\n';
    return;
  }
  out << named.size();
  const char* separator = ": ";
  for (const auto& n : named) {
    out << separator << n["name"].get<std::string>();
    separator = ", ";
  }
  out << '\n';
}

}  // namespace tessel::tools
