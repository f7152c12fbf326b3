// `tessel snapshot export|import|info`: checkpoint files (include/tessel/checkpoint.hpp). export takes a
// snapshot of a store opened read-only and writes it to a new file; import makes a new store from one
// (mmap or, with --backend pmem, a pool); info prints a file's header and trailer. docs/tools.md §snapshot.
// Named durable snapshots (create, list, drop) come with the format change they need.
#include <chrono>
#include <cstdint>
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
  std::string file;
  std::string backend_name = "mmap";
  std::uint64_t pool_bytes = options{}.pool_bytes;
  bool json = false;
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

int run_export(const snapshot_options& o) {
  options opts;
  opts.backend = backend_of(o.store_path);
  opts.read_only = true;
  auto s = store::open(o.store_path, opts);
  if (!s) return fail("snapshot export", s.error());
  auto snap = (*s)->snapshot();
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
  o->export_cmd = app.add_subcommand("export", "write a snapshot of the store at PATH to a new checkpoint FILE");
  o->export_cmd->add_option("path", o->store_path, "store directory")->required();
  o->export_cmd->add_option("file", o->file, "checkpoint file to create")->required();
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
    if (o->export_cmd->parsed()) return run_export(*o);
    if (o->import_cmd->parsed()) return run_import(*o);
    return run_info(*o);
  };
}

const command_registration registration{
    {"snapshot", "export a store's snapshot to a checkpoint file, import one into a new store", &setup}};

}  // namespace
}  // namespace tessel::tools
