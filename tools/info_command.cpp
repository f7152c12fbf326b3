// `tessel info PATH`: the facts of a durable store without opening its tree -- superblock, both meta slots,
// sizes, key count; for a pmem store, tools/pool_info.hpp. Read-only (a shared lock; busy while a writer has the store
// open). docs/tools.md §info.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "log/log_reader.hpp"
#include "mmap/store_file.hpp"
#include "store/log_recovery.hpp"
#include "tools/command_registry.hpp"
#include "tools/named_snapshot_facts.hpp"
#include "tools/pool_info.hpp"
#include "tools/shard_directories.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {
namespace {

nlohmann::json slot_json(const result<mmap::meta_slot>& s, bool current) {
  if (!s) return {{"valid", false}, {"problem", std::string(s.error().message())}};
  return {{"valid", true},
          {"current", current},
          {"generation", s->generation},
          {"epoch", s->epoch},
          {"keys", s->key_count},
          {"leaf_bytes", s->leaf_bytes},
          {"at_seq", s->at_seq},
          {"frontier", s->frontier},
          {"allocated_bytes", s->allocated_bytes},
          {"clean_close", (s->flags & mmap::clean_close) != 0},
          {"committed_unix_ns", s->committed_unix_ns}};
}

std::uint64_t directory_bytes(const std::filesystem::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

/// One store's facts, to `out`.
int info_of(const std::string& path, bool json, std::ostream& out) {
  if (backend_of(path) == backend::pmem) return pool_info(path, json, out);
  auto file = mmap::store_file::open(path, true);
  if (!file) return fail("info", file.error());
  const mmap::superblock& sb = (*file)->super();
  auto newest = (*file)->newest_slot();
  nlohmann::json j;
  j["path"] = path;
  j["format_version"] = sb.version;
  j["store_id"] = hex_id(sb.id);
  j["created_unix_ns"] = sb.created_unix_ns;
  j["incompat_features"] = sb.incompat_features;
  j["data_file_bytes"] = (*file)->size_at_open();
  j["directory_bytes"] = directory_bytes(path);
  j["current_slot"] = newest ? *newest : -1;
  if (newest) j["keys"] = (*file)->slot(*newest)->key_count;
  j["meta_slots"] = {slot_json((*file)->slot(0), newest && *newest == 0),
                     slot_json((*file)->slot(1), newest && *newest == 1)};
  const std::uint64_t at_seq = newest ? (*file)->slot(*newest)->at_seq : 0;
  auto log = oplog::scan_log(detail::log_directory(path), sb.id, at_seq,
                             [](const oplog::record_view&) -> result<void> { return {}; });
  if (log) {
    j["log"] = {{"segments", log->segments},    {"first_seq", log->first_seq}, {"last_seq", log->last_seq},
                {"records", log->records},      {"to_replay", log->replayed},  {"record_bytes", log->bytes},
                {"file_bytes", log->file_bytes}};
    if (log->damage) {
      j["log"]["torn_tail"] = {
          {"segment", log->damage->segment.string()}, {"offset", log->damage->offset}, {"reason", log->damage->reason}};
    }
  } else {
    j["log"] = {{"problem", log.error().to_string()}};
  }
  j["named_snapshots"] = named_snapshots_json(path, sb.id);
  if (json) {
    out << j.dump(2) << '\n';
  } else {
    out << "store            " << path << '\n'
        << "format version   " << sb.version << '\n'
        << "store id         " << j["store_id"].get<std::string>() << '\n'
        << "data file        " << (*file)->size_at_open() << " bytes\n"
        << "directory        " << j["directory_bytes"].get<std::uint64_t>() << " bytes\n";
    if (newest) out << "keys             " << (*file)->slot(*newest)->key_count << '\n';
    for (int i = 0; i < 2; ++i) {
      const auto& s = (*file)->slot(i);
      out << "meta slot " << i << "      ";
      if (!s) {
        out << "unusable: " << s.error().message() << '\n';
        continue;
      }
      out << "generation " << s->generation << ", epoch " << s->epoch << ", " << s->key_count << " keys, at_seq "
          << s->at_seq << ", frontier " << s->frontier << ((s->flags & mmap::clean_close) != 0 ? ", clean close" : "")
          << (newest && *newest == i ? "  (current)" : "") << '\n';
    }
    if (log) {
      out << "log              " << log->segments << " segments, " << log->records << " records (seq " << log->first_seq
          << ".." << log->last_seq << "), " << log->replayed << " after the current commit, " << log->file_bytes
          << " bytes on disk\n";
      if (log->damage) {
        out << "log tail         torn at " << log->damage->segment.string() << " offset " << log->damage->offset << " ("
            << log->damage->reason << "); the next open cuts it\n";
      }
    } else {
      out << "log              unreadable: " << log.error().to_string() << '\n';
    }
    print_named_snapshots(j["named_snapshots"], out);
  }
  if (!newest) return fail("info", newest.error());
  return 0;
}

run_function setup(CLI::App& app) { return setup_store_command(app, "info", info_of); }

const command_registration registration{{"info", "show a store's superblock, meta slots and sizes", &setup}};

}  // namespace
}  // namespace tessel::tools
