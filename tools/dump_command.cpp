// `tessel dump PATH [-o FILE]`: every entry of a store, in key order, in the dump line format
// (store/dump_format.hpp), to stdout or a file. Opens the store read-only. docs/tools.md §dump.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "tessel/store.hpp"

#include "store/dump_format.hpp"
#include "tools/command_registry.hpp"
#include "tools/progress_meter.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {
namespace {

struct dump_options {
  std::string path;
  std::string output;
};

// Buffered writes of about this much: few system calls, bounded memory however large the store.
constexpr std::size_t flush_at = 1 << 20;

int run(const dump_options& o) {
  options opts;
  opts.backend = backend_of(o.path);
  opts.read_only = true;
  // After a clean close, open trusts the tree without walking it; dump follows every reference, so a
  // damaged one must be found by the walk (corruption, exit 3), not by the cursor (a wild read).
  opts.verify_checksums_on_open = true;
  auto s = store::open(o.path, opts);
  if (!s) return fail("dump", s.error());
  std::FILE* out = stdout;
  if (!o.output.empty()) {
    out = std::fopen(o.output.c_str(), "wbx");  // never overwrite an existing file
    if (out == nullptr) return fail("dump", error(errc::io_error, "cannot create " + o.output + " (exists?)"));
  }
  progress_meter meter("dumping", false);
  std::string buffer(dump_header);
  buffer.push_back('\n');
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
  bool write_failed = false;
  auto drain = [&] {
    if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size()) write_failed = true;
    bytes += buffer.size();
    buffer.clear();
  };
  auto c = (*s)->new_cursor();
  for (c.seek_to_first(); c.valid() && !write_failed; c.next()) {
    append_dump_line(buffer, c.key(), c.value());
    ++entries;
    if (buffer.size() >= flush_at) {
      drain();
      meter.update(entries, bytes);
    }
  }
  drain();
  meter.finish();
  if (std::fflush(out) != 0) write_failed = true;
  if (out != stdout && std::fclose(out) != 0) write_failed = true;
  if (write_failed) return fail("dump", error(errc::io_error, "writing the dump failed"));
  return 0;
}

run_function setup(CLI::App& app) {
  auto o = std::make_shared<dump_options>();
  app.add_option("path", o->path, "store directory")->required();
  app.add_option("-o,--output", o->output, "write to this new file instead of stdout");
  return [o] { return run(*o); };
}

const command_registration registration{
    {"dump", "write every entry in key order, one escaped line each (read-only)", &setup}};

}  // namespace
}  // namespace tessel::tools
