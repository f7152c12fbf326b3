// `tessel load PATH [-i FILE]`: puts every entry of a dump (store/dump_format.hpp) into the store at PATH,
// creating it when absent, then closes it (one commit: a crash during load leaves the store as it was
// before). An empty mmap store is built bottom-up while the keys ascend. docs/tools.md §load.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tessel/store.hpp"

#include "store/dump_format.hpp"
#include "store/store_impl.hpp"
#include "tools/command_registry.hpp"
#include "tools/progress_meter.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {
namespace {

struct load_options {
  std::string path;
  std::string input;
  std::string backend_name;  // "mmap" or "pmem" for a new store; empty: mmap, or what the directory holds
  std::uint64_t pool_bytes = options{}.pool_bytes;
  bool json = false;
};

/// Reads one line without its '\n' into `line`; false at the end of input.
bool read_line(std::FILE* in, std::string& line) {
  line.clear();
  int c = 0;
  while ((c = std::getc(in)) != EOF) {
    if (c == '\n') return true;
    line.push_back(static_cast<char>(c));
  }
  return !line.empty();
}

int run(const load_options& o) {
  std::FILE* in = stdin;
  if (!o.input.empty()) {
    in = std::fopen(o.input.c_str(), "rb");
    if (in == nullptr) return fail("load", error(errc::not_found, "cannot open " + o.input));
  }
  struct closer {
    std::FILE* f;
    ~closer() {
      if (f != stdin) std::fclose(f);
    }
  } close_input{in};

  std::string line;
  if (!read_line(in, line) || line != dump_header) {
    return fail("load", error(errc::invalid_argument,
                              "input does not start with the line \"" + std::string(dump_header) + "\""));
  }
  options opts;
  opts.backend = o.backend_name.empty() ? backend_of(o.path) : o.backend_name == "pmem" ? backend::pmem : backend::mmap;
  opts.pool_bytes = o.pool_bytes;
  // One commit at close: all or nothing. (A pmem store also commits whenever its log area fills.)
  opts.durability = durability::none;
  opts.checkpoint_log_bytes = UINT64_MAX;
  opts.checkpoint_interval = std::chrono::milliseconds{0};
  auto s = store::open(o.path, opts);
  if (!s) return fail("load", s.error());

  progress_meter meter("loading", o.json);
  std::uint64_t entries = 0;
  std::uint64_t bytes = line.size() + 1;
  std::uint64_t line_number = 1;
  // The next entry of the input; false at its end. A line that does not parse abandons the store.
  result<void> failure;
  auto next_entry = [&](dump_entry& e) -> bool {
    if (!read_line(in, line)) return false;
    ++line_number;
    bytes += line.size() + 1;
    auto parsed = parse_dump_line(line);
    if (!parsed) {
      failure = make_error(errc::invalid_argument,
                           "line " + std::to_string(line_number) + ": " + std::string(parsed.error().message()));
      return false;
    }
    e = std::move(*parsed);
    return true;
  };
  auto line_error = [&](const error& e) {
    return error(e.code(), "line " + std::to_string(line_number) + ": " + std::string(e.message()));
  };
  dump_entry e;
  bool have_entry = false;  // `e` was read and not stored yet
  detail::store_impl& impl = detail::store_access::impl(**s);
  if ((*s)->is_empty() && impl.pool() == nullptr) {
    // An empty store fills bottom-up while the keys ascend, as `dump` writes them (the tree's nodes made
    // once, no log record per entry); from a key that does not, the rest are puts.
    std::string previous;
    auto loaded = impl.load_sorted([&](detail::store_impl::sorted_sink sink) -> result<void> {
      while (next_entry(e)) {
        if (entries != 0 && e.key <= previous) {
          have_entry = true;
          return {};
        }
        if (auto ok = sink(as_bytes(e.key), as_bytes(e.value)); !ok) return tl::unexpected(line_error(ok.error()));
        previous = e.key;
        ++entries;
        meter.update(entries, bytes);
      }
      return failure;
    });
    if (!loaded) {
      detail::store_access::abandon(std::move(*s));  // a load is all or nothing
      return fail("load", loaded.error());
    }
  }
  // An mmap store logs nothing of the load, so that a crash before the commit at close loses all of it
  // (a logged put, even at durability none, reaches the file and is replayed at the next open). A pmem
  // store takes logged puts: its log area fills and commits, which bounds its unpublished reservations.
  const bool unlogged = impl.pool() == nullptr;
  while (have_entry || next_entry(e)) {
    have_entry = false;
    const key_view k = as_bytes(e.key);
    const value_view v = as_bytes(e.value);
    if (auto ok = unlogged ? impl.put_unlogged(k, v) : (*s)->put(k, v); !ok) {
      detail::store_access::abandon(std::move(*s));
      return fail("load", line_error(ok.error()));
    }
    ++entries;
    meter.update(entries, bytes);
  }
  // An input that failed to read ends like one that ended early, so it is told apart here, before the close
  // that would commit what was loaded.
  if (failure && std::ferror(in) != 0) failure = make_error(errc::io_error, "reading the input failed");
  if (!failure) {
    detail::store_access::abandon(std::move(*s));  // drop the store without committing: all or nothing
    return fail("load", failure.error());
  }
  meter.finish();
  if (auto ok = (*s)->close(); !ok) return fail("load", ok.error());
  if (o.json) {
    std::cout << nlohmann::json{{"path", o.path}, {"loaded", entries}, {"keys", (*s)->len()}}.dump(2) << '\n';
  } else {
    std::cout << "loaded " << entries << " entries; the store holds " << (*s)->len() << " keys\n";
  }
  return 0;
}

run_function setup(CLI::App& app) {
  auto o = std::make_shared<load_options>();
  app.add_option("path", o->path, "store directory (created when absent)")->required();
  app.add_option("-i,--input", o->input, "read this file instead of stdin");
  app.add_option("--backend", o->backend_name, "backend of a new store (default mmap; an existing store keeps its own)")
      ->check(CLI::IsMember({"mmap", "pmem"}));
  app.add_option("--pool-size", o->pool_bytes, "pool bytes of a new pmem store (default 1 GiB)");
  app.add_flag("--json", o->json, "print one JSON object");
  return [o] { return run(*o); };
}

const command_registration registration{
    {"load", "put every entry of a dump into a store, creating it when absent", &setup}};

}  // namespace
}  // namespace tessel::tools
