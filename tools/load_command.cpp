// `tessel load PATH [-i FILE]`: puts every entry of a dump (store/dump_format.hpp) into the store at PATH,
// creating it when absent, then closes it (one commit: a crash during load leaves the store as it was
// before). docs/tools.md §load.
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
  opts.backend = backend::mmap;
  opts.durability = durability::none;  // one commit at close: all or nothing
  auto s = store::open(o.path, opts);
  if (!s) return fail("load", s.error());

  progress_meter meter("loading", o.json);
  std::uint64_t entries = 0;
  std::uint64_t bytes = line.size() + 1;
  for (std::uint64_t line_number = 2; read_line(in, line); ++line_number) {
    bytes += line.size() + 1;
    auto e = parse_dump_line(line);
    if (!e) {
      // Drop the store without committing: a load is all or nothing.
      detail::store_access::abandon(std::move(*s));
      return fail("load", error(errc::invalid_argument,
                                "line " + std::to_string(line_number) + ": " + std::string(e.error().message())));
    }
    if (auto ok = (*s)->put(as_bytes(e->key), as_bytes(e->value)); !ok) {
      detail::store_access::abandon(std::move(*s));
      return fail("load", error(ok.error().code(),
                                "line " + std::to_string(line_number) + ": " + std::string(ok.error().message())));
    }
    ++entries;
    meter.update(entries, bytes);
  }
  meter.finish();
  if (std::ferror(in) != 0) return fail("load", error(errc::io_error, "reading the input failed"));
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
  app.add_flag("--json", o->json, "print one JSON object");
  return [o] { return run(*o); };
}

const command_registration registration{
    {"load", "put every entry of a dump into a store, creating it when absent", &setup}};

}  // namespace
}  // namespace tessel::tools
