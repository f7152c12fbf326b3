// `tessel snapshot create|list|drop|export|import|info`. create, list and drop manage a durable store's
// named snapshots (store::create_named_snapshot). The others are about checkpoint files
// (include/tessel/checkpoint.hpp): export writes the store's current state, or a named snapshot, from a
// store opened read-only to a new file; import makes a new store from one (mmap or, with --backend pmem, a
// pool); info prints a file's header and trailer. docs/tools.md §snapshot.
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tessel/checkpoint.hpp"
#include "tessel/store.hpp"

#include "store/store_impl.hpp"
#include "tools/command_registry.hpp"
#include "tools/progress_meter.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {
namespace {

struct snapshot_options {
  std::string store_path;
  std::string name;  // of a named snapshot
  std::string file;
  std::string backend_name = "mmap";
  std::uint64_t pool_bytes = options{}.pool_bytes;
  bool json = false;
  CLI::App* create_cmd = nullptr;
  CLI::App* list_cmd = nullptr;
  CLI::App* drop_cmd = nullptr;
  CLI::App* export_cmd = nullptr;
  CLI::App* import_cmd = nullptr;
  CLI::App* info_cmd = nullptr;
};

nlohmann::json info_json(const checkpoint_info& i) {
  return {{"at_seq", i.at_seq},
          {"keys", i.keys},
          {"data_bytes", i.data_bytes},
          {"file_bytes", i.file_bytes},
          {"created_unix_ns", i.created_unix_ns}};
}

void print_info(const std::string& what, const checkpoint_info& i, double seconds) {
  std::cout << what << ' ' << i.keys << " keys, " << i.data_bytes << " bytes of keys and values, " << i.file_bytes
            << " file bytes, at_seq " << i.at_seq;
  if (seconds > 0)
    std::cout << " in " << seconds << " s (" << static_cast<double>(i.file_bytes) / seconds / 1e6 << " MB/s)";
  std::cout << '\n';
}

/// `ns` as UTC ISO 8601, to the second.
std::string utc_time(std::uint64_t ns) {
  const auto seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(text, n);
}

nlohmann::json named_json(const named_snapshot_info& i) {
  return {{"name", i.name},
          {"keys", i.len},
          {"leaf_bytes", i.leaf_bytes},
          {"at_seq", i.at_seq},
          {"epoch", i.epoch},
          {"created_unix_ns", i.created_unix_ns},
          {"created", utc_time(i.created_unix_ns)}};
}

/// Opens the durable store at `path` for create or drop. Errors: as store::open.
result<std::unique_ptr<store>> open_for_writing(const std::string& path) {
  options opts;
  opts.backend = backend_of(path);
  opts.mode = open_mode::open_existing;
  return store::open(path, opts);
}

int run_create(const snapshot_options& o) {
  auto s = open_for_writing(o.store_path);
  if (!s) return fail("snapshot create", s.error());
  auto info = (*s)->create_named_snapshot(o.name);
  if (!info) return fail("snapshot create", info.error());
  if (auto ok = (*s)->close(); !ok) return fail("snapshot create", ok.error());
  if (o.json) {
    std::cout << nlohmann::json{{"store", o.store_path}, {"created", named_json(*info)}}.dump(2) << '\n';
  } else {
    std::cout << "created snapshot '" << info->name << "': " << info->len << " keys, at_seq " << info->at_seq << '\n';
  }
  return 0;
}

int run_list(const snapshot_options& o) {
  options opts;
  opts.backend = backend_of(o.store_path);
  opts.read_only = true;
  auto s = store::open(o.store_path, opts);
  if (!s) return fail("snapshot list", s.error());
  auto list = (*s)->named_snapshots();
  if (!list) return fail("snapshot list", list.error());
  if (o.json) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& i : *list) all.push_back(named_json(i));
    std::cout << nlohmann::json{{"store", o.store_path}, {"snapshots", all}}.dump(2) << '\n';
    return 0;
  }
  if (list->empty()) {
    std::cout << "no named snapshots\n";
    return 0;
  }
  std::cout << "name\tkeys\tleaf_bytes\tat_seq\tcreated\n";
  for (const auto& i : *list) {
    std::cout << i.name << '\t' << i.len << '\t' << i.leaf_bytes << '\t' << i.at_seq << '\t'
              << utc_time(i.created_unix_ns) << '\n';
  }
  return 0;
}

int run_drop(const snapshot_options& o) {
  auto s = open_for_writing(o.store_path);
  if (!s) return fail("snapshot drop", s.error());
  if (auto ok = (*s)->drop_named_snapshot(o.name); !ok) return fail("snapshot drop", ok.error());
  if (auto ok = (*s)->close(); !ok) return fail("snapshot drop", ok.error());
  if (o.json) {
    std::cout << nlohmann::json{{"store", o.store_path}, {"dropped", o.name}}.dump(2) << '\n';
  } else {
    std::cout << "dropped snapshot '" << o.name << "'\n";
  }
  return 0;
}

int run_export(const snapshot_options& o) {
  options opts;
  opts.backend = backend_of(o.store_path);
  opts.read_only = true;
  auto s = store::open(o.store_path, opts);
  if (!s) return fail("snapshot export", s.error());
  auto snap = o.name.empty() ? (*s)->snapshot() : (*s)->open_named_snapshot(o.name);
  if (!snap) return fail("snapshot export", snap.error());
  progress_meter meter("exporting", o.json);
  const auto start = std::chrono::steady_clock::now();
  export_options eo;
  eo.progress = [&](std::uint64_t n, std::uint64_t b) { meter.update(n, b); };
  auto info = export_checkpoint(*snap, o.file, eo);
  meter.finish();
  if (!info) return fail("snapshot export", info.error());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.json) {
    std::cout << nlohmann::json{{"file", o.file}, {"store", o.store_path}, {"checkpoint", info_json(*info)}}.dump(2)
              << '\n';
  } else {
    print_info("exported", *info, seconds);
  }
  return 0;
}

int run_import(const snapshot_options& o) {
  std::error_code ec;
  if (std::filesystem::exists(o.store_path, ec) && !std::filesystem::is_empty(o.store_path, ec)) {
    return fail("snapshot import", error(errc::invalid_argument, o.store_path + " exists; import makes a new store"));
  }
  options opts;
  opts.backend = o.backend_name == "pmem" ? backend::pmem : backend::mmap;
  opts.mode = open_mode::create_new;
  opts.durability = durability::none;
  opts.pool_bytes = o.pool_bytes;
  opts.checkpoint_log_bytes = UINT64_MAX;  // one commit at the end
  opts.checkpoint_interval = std::chrono::milliseconds{0};
  auto s = store::open(o.store_path, opts);
  if (!s) return fail("snapshot import", s.error());
  progress_meter meter("importing", o.json);
  const auto start = std::chrono::steady_clock::now();
  auto info = import_checkpoint(o.file, **s, [&](std::uint64_t n, std::uint64_t b) { meter.update(n, b); });
  meter.finish();
  if (!info) {
    // A failed import leaves no half store behind.
    detail::store_access::abandon(std::move(*s));
    std::filesystem::remove_all(o.store_path, ec);
    return fail("snapshot import", info.error());
  }
  if (auto ok = (*s)->close(); !ok) return fail("snapshot import", ok.error());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.json) {
    std::cout << nlohmann::json{{"file", o.file}, {"store", o.store_path}, {"checkpoint", info_json(*info)}}.dump(2)
              << '\n';
  } else {
    print_info("imported", *info, seconds);
  }
  return 0;
}

int run_info(const snapshot_options& o) {
  auto info = read_checkpoint_info(o.file);
  if (!info) return fail("snapshot info", info.error());
  if (o.json) {
    std::cout << nlohmann::json{{"file", o.file}, {"checkpoint", info_json(*info)}}.dump(2) << '\n';
  } else {
    print_info("checkpoint", *info, 0);
  }
  return 0;
}

run_function setup(CLI::App& app) {
  auto o = std::make_shared<snapshot_options>();
  app.require_subcommand(1);
  o->create_cmd = app.add_subcommand("create", "commit the store at PATH and keep that version as NAME");
  o->create_cmd->add_option("path", o->store_path, "store directory")->required();
  o->create_cmd->add_option("name", o->name, "snapshot name (printable, at most 128 bytes)")->required();
  o->create_cmd->add_flag("--json", o->json, "print one JSON object");
  o->list_cmd = app.add_subcommand("list", "list the named snapshots of the store at PATH");
  o->list_cmd->add_option("path", o->store_path, "store directory")->required();
  o->list_cmd->add_flag("--json", o->json, "print one JSON object");
  o->drop_cmd = app.add_subcommand("drop", "forget the named snapshot NAME; its blocks are freed");
  o->drop_cmd->add_option("path", o->store_path, "store directory")->required();
  o->drop_cmd->add_option("name", o->name, "snapshot name")->required();
  o->drop_cmd->add_flag("--json", o->json, "print one JSON object");
  o->export_cmd = app.add_subcommand("export", "write a snapshot of the store at PATH to a new checkpoint FILE");
  o->export_cmd->add_option("path", o->store_path, "store directory")->required();
  o->export_cmd->add_option("file", o->file, "checkpoint file to create")->required();
  o->export_cmd->add_option("--name", o->name, "export this named snapshot instead of the current state");
  o->export_cmd->add_flag("--json", o->json, "print one JSON object");
  o->import_cmd = app.add_subcommand("import", "make a new store at PATH from the checkpoint FILE");
  o->import_cmd->add_option("file", o->file, "checkpoint file")->required();
  o->import_cmd->add_option("path", o->store_path, "store directory to create")->required();
  o->import_cmd->add_option("--backend", o->backend_name, "backend of the new store (default mmap)")
      ->check(CLI::IsMember({"mmap", "pmem"}));
  o->import_cmd->add_option("--pool-size", o->pool_bytes, "pool bytes of a new pmem store (default 1 GiB)");
  o->import_cmd->add_flag("--json", o->json, "print one JSON object");
  o->info_cmd = app.add_subcommand("info", "print a checkpoint file's header and counts (checked)");
  o->info_cmd->add_option("file", o->file, "checkpoint file")->required();
  o->info_cmd->add_flag("--json", o->json, "print one JSON object");
  return [o] {
    if (o->create_cmd->parsed()) return run_create(*o);
    if (o->list_cmd->parsed()) return run_list(*o);
    if (o->drop_cmd->parsed()) return run_drop(*o);
    if (o->export_cmd->parsed()) return run_export(*o);
    if (o->import_cmd->parsed()) return run_import(*o);
    return run_info(*o);
  };
}

const command_registration registration{
    {"snapshot", "named snapshots (create, list, drop) and checkpoint files (export, import, info)", &setup}};

}  // namespace
}  // namespace tessel::tools
