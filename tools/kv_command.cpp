// `tessel kv get|set|del|list|cas|watch`: the versioned KV layer (include/tessel/kv_store.hpp) from the shell,
// over a durable sharded store directory (mmap shards). Reads open an existing store and never create one;
// writes open or create it. A kv store is embedded -- one process holds it -- so `watch` cannot follow
// another process's writes: it applies a script of writes read from stdin and prints the events its own
// watch delivers for them. docs/tools.md §kv.
//
// Thread safety: single-threaded; the store is opened and closed by each command.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tessel/kv_store.hpp"

#include "mmap/store_file.hpp"
#include "store/pool_open.hpp"
#include "store/shard_manifest.hpp"
#include "tools/command_registry.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {
namespace {

using json = nlohmann::ordered_json;  // fields in the order written: key first

/// How long `watch` waits for the event of a write it applied before calling it lost.
constexpr std::chrono::seconds event_wait{30};

struct kv_cli_options {
  std::string path;
  std::string key;
  std::string value;
  std::string prefix;   // list
  std::string pattern;  // watch
  std::string durability_name = "log";
  std::uint64_t expected = 0;  // cas
  std::uint64_t from_seq = 0;  // watch --from
  std::size_t limit = 0;       // list; 0: all
  std::uint32_t shards = 0;
  bool json = false;
  bool values = false;  // list --values
  CLI::Option* from_option = nullptr;
  CLI::App* get_cmd = nullptr;
  CLI::App* set_cmd = nullptr;
  CLI::App* del_cmd = nullptr;
  CLI::App* list_cmd = nullptr;
  CLI::App* cas_cmd = nullptr;
  CLI::App* watch_cmd = nullptr;
};

// ---- Output helpers ----

/// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): what a JSON string can hold.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      extra = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      extra = 2;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      extra = 3;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  return out;
}

/// Sets j[name] to `bytes` when they are valid UTF-8, else j[name + "_hex"] to their hex: JSON strings
/// cannot carry arbitrary bytes, and a lossy replacement would hide that the value is binary.
void put_bytes(json& j, const std::string& name, std::string_view bytes) {
  if (valid_utf8(bytes)) {
    j[name] = std::string(bytes);
  } else {
    j[name + "_hex"] = hex(bytes);
  }
}

/// Percent-escapes `bytes` as `tessel dump` does (a byte 0x20-0x7E other than '%' stands for itself, any
/// other is %XX), and the space too when `escape_space`: a key inside a watch line must stay one word.
std::string escape(std::string_view bytes, bool escape_space) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    const bool plain = b >= 0x20 && b <= 0x7E && b != '%' && !(escape_space && b == ' ');
    if (plain) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(digits[b >> 4]);
      out.push_back(digits[b & 0xF]);
    }
  }
  return out;
}

/// Flushes stdout; a failed write (a closed pipe, a full disk) is an io_error, not a silent success.
result<void> flush_stdout() {
  std::cout.flush();
  if (!std::cout) return make_error(errc::io_error, "writing to stdout failed");
  return {};
}

// ---- Opening the store ----

durability durability_of(const std::string& name) {
  if (name == "none") return durability::none;
  if (name == "sync") return durability::sync;
  return durability::log;
}

/// Opens the kv store at o.path: an existing one for reading, or for writing one it creates when absent.
/// Errors: as kv_store::open, with a missing store as not_found naming the path (exit 2, as info does).
result<std::unique_ptr<kv_store>> open_kv(const kv_cli_options& o, bool writing) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // A single store's directory is not a sharded one; opening it for writing would create shards beside
  // its data file.
  if (fs::exists(fs::path(o.path) / mmap::store_file::data_file_name, ec) || detail::pool_store_exists(o.path)) {
    return make_error(errc::invalid_argument, o.path + " holds a single store, not a sharded kv store");
  }
  // Reads open read-only: they write nothing (not even the generation record, docs/kv.md §Seqs).
  options opts;
  opts.backend = backend::mmap;
  opts.mode = writing ? open_mode::create_or_open : open_mode::open_existing;
  opts.read_only = !writing;
  opts.durability = durability_of(o.durability_name);
  shard_options shards;
  shards.shards = o.shards;
  // No async threads: the CLI makes no *_async calls. The history stays on: each command closes cleanly,
  // so the history lives on from command to command and `kv watch --from` replays earlier ones' changes.
  kv_options kvo;
  kvo.async_threads = 0;
  auto kv = kv_store::open(o.path, opts, shards, kvo);
  if (!kv && kv.error().code() == errc::not_found &&
      !fs::exists(fs::path(o.path) / detail::shard_manifest_file_name, ec)) {
    return make_error(errc::not_found, "no kv store in " + o.path);
  }
  return kv;
}

/// Closes the store and reports its error: the destructor would drop it, and with --durability none the
/// close is what makes the writes durable.
result<void> close_kv(std::unique_ptr<kv_store>& kv) {
  auto ok = kv->close();
  kv.reset();
  return ok;
}

/// A conflict's message with what the version check found (error::conflict()).
error describe_conflict(const error& e) {
  const version_conflict* c = e.conflict();
  if (c == nullptr) return e;
  const auto version_text = [](std::uint64_t v) {
    if (v == version_conflict::any_version) return std::string("any (present)");
    return v == 0 ? std::string("0 (missing)") : std::to_string(v);
  };
  return error(errc::conflict, escape(c->key, false) + ": expected version " + version_text(c->expected) + ", found " +
                                   version_text(c->found));
}

/// VALUE as given, or all of stdin when it is "-".
result<std::string> value_argument(const std::string& value) {
  if (value != "-") return value;
  std::string data;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) data.append(buffer, n);
  if (std::ferror(stdin)) return make_error(errc::io_error, "reading the value from stdin failed");
  return data;
}

void put_entry(json& j, const kv_entry& e) {
  put_bytes(j, "value", e.value);
  j["version"] = e.version;
  j["created_at_ns"] = e.created_at_ns;
  j["updated_at_ns"] = e.updated_at_ns;
}

// ---- get, set, del, list, cas ----

int run_get(const kv_cli_options& o) {
  auto kv = open_kv(o, false);
  if (!kv) return fail("kv get", kv.error());
  auto entry = (*kv)->get(o.key);
  // Absence is a normal answer (docs/tools.md §Exit codes): exit 0, printed as found=false, or on stderr
  // when stdout carries the value's bytes.
  const bool missing = !entry && entry.error().code() == errc::not_found;
  if (!entry && !missing) return fail("kv get", entry.error());
  if (auto ok = close_kv(*kv); !ok) return fail("kv get", ok.error());
  if (o.json) {
    json j;
    put_bytes(j, "key", o.key);
    j["found"] = !missing;
    if (!missing) {
      put_entry(j, *entry);
      j["seq"] = entry->seq;
    }
    std::cout << j.dump(2) << '\n';
  } else if (missing) {
    std::cerr << "tessel kv get: " << escape(o.key, false) << ": no such key\n";
  } else {
    std::cout.write(entry->value.data(), static_cast<std::streamsize>(entry->value.size()));
  }
  if (auto ok = flush_stdout(); !ok) return fail("kv get", ok.error());
  return 0;
}

/// Prints what a write did once the store is closed, so a printed version is as durable as --durability says.
int print_write(const kv_cli_options& o, std::string_view command, std::uint64_t version, std::uint64_t seq) {
  if (o.json) {
    json j;
    put_bytes(j, "key", o.key);
    j["version"] = version;
    j["seq"] = seq;
    std::cout << j.dump(2) << '\n';
  } else {
    std::cout << version << '\n';
  }
  if (auto ok = flush_stdout(); !ok) return fail(command, ok.error());
  return 0;
}

int run_set(const kv_cli_options& o) {
  auto value = value_argument(o.value);
  if (!value) return fail("kv set", value.error());
  auto kv = open_kv(o, true);
  if (!kv) return fail("kv set", kv.error());
  auto version = (*kv)->set(o.key, *value);
  if (!version) return fail("kv set", version.error());
  const std::uint64_t seq = (*kv)->current_seq();  // this process is the store's only writer
  if (auto ok = close_kv(*kv); !ok) return fail("kv set", ok.error());
  return print_write(o, "kv set", *version, seq);
}

int run_del(const kv_cli_options& o) {
  auto kv = open_kv(o, true);
  if (!kv) return fail("kv del", kv.error());
  auto removed = (*kv)->erase(o.key);
  if (!removed) return fail("kv del", removed.error());
  const std::uint64_t seq = (*kv)->current_seq();
  if (auto ok = close_kv(*kv); !ok) return fail("kv del", ok.error());
  return print_write(o, "kv del", *removed, seq);
}

int run_cas(const kv_cli_options& o) {
  auto value = value_argument(o.value);
  if (!value) return fail("kv cas", value.error());
  auto kv = open_kv(o, true);
  if (!kv) return fail("kv cas", kv.error());
  auto version = (*kv)->compare_and_set(o.key, o.expected, *value);
  if (!version) return fail("kv cas", describe_conflict(version.error()));
  const std::uint64_t seq = (*kv)->current_seq();
  if (auto ok = close_kv(*kv); !ok) return fail("kv cas", ok.error());
  return print_write(o, "kv cas", *version, seq);
}

int run_list(const kv_cli_options& o) {
  auto kv = open_kv(o, false);
  if (!kv) return fail("kv list", kv.error());
  if (o.values) {
    // One JSON object per line: values may be binary, and a line per entry keeps the output streamable.
    std::size_t n = 0;
    auto ok = (*kv)->scan(o.prefix, [&](std::string_view key, const kv_entry& e) {
      json j;
      put_bytes(j, "key", key);
      put_entry(j, e);
      std::cout << j.dump() << '\n';
      return o.limit == 0 || ++n < o.limit;
    });
    if (!ok) return fail("kv list", ok.error());
  } else {
    auto keys = (*kv)->list(o.prefix, o.limit);
    if (!keys) return fail("kv list", keys.error());
    if (o.json) {
      json all = json::array();
      for (const std::string& key : *keys) {
        if (valid_utf8(key)) {
          all.push_back(key);
        } else {
          all.push_back(json{{"key_hex", hex(key)}});
        }
      }
      std::cout << all.dump(2) << '\n';
    } else {
      for (const std::string& key : *keys) std::cout << escape(key, false) << '\n';
    }
  }
  if (auto ok = close_kv(*kv); !ok) return fail("kv list", ok.error());
  if (auto ok = flush_stdout(); !ok) return fail("kv list", ok.error());
  return 0;
}

// ---- watch ----

/// One line of a watch script (docs/tools.md §kv watch).
struct script_command {
  enum class kind : std::uint8_t { set, erase, cas };
  kind what = kind::set;
  std::string key;
  std::uint64_t version = 0;  // cas: expected
  std::string value;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

/// The next whitespace-separated word of `line` from `pos`, moving `pos` past it; empty at the end.
std::string_view next_word(std::string_view line, std::size_t& pos) {
  while (pos < line.size() && is_blank(line[pos])) ++pos;
  const std::size_t start = pos;
  while (pos < line.size() && !is_blank(line[pos])) ++pos;
  return line.substr(start, pos - start);
}

/// Parses one script line; std::nullopt for a blank or comment line. Errors: invalid_argument naming the
/// line.
result<std::optional<script_command>> parse_script_line(std::string_view line, std::size_t line_no) {
  const auto bad = [&](const std::string& why) {
    return make_error(errc::invalid_argument, "line " + std::to_string(line_no) + ": " + why);
  };
  std::size_t pos = 0;
  const std::string_view verb = next_word(line, pos);
  if (verb.empty() || verb.front() == '#') return std::nullopt;
  script_command c;
  if (verb == "set") {
    c.what = script_command::kind::set;
  } else if (verb == "del") {
    c.what = script_command::kind::erase;
  } else if (verb == "cas") {
    c.what = script_command::kind::cas;
  } else {
    return bad("unknown command '" + escape(verb, false) + "' (set, del or cas)");
  }
  c.key = next_word(line, pos);
  if (c.key.empty()) return bad(std::string(verb) + " needs a KEY");
  if (c.what == script_command::kind::erase) {
    if (!next_word(line, pos).empty()) return bad("del takes only a KEY");
    return c;
  }
  if (c.what == script_command::kind::cas) {
    const std::string_view version = next_word(line, pos);
    if (version.empty()) return bad("cas needs a VERSION and a VALUE");
    std::uint64_t v = 0;
    for (const char d : version) {
      // Digits only, and no overflow past 2^64 - 1.
      if (d < '0' || d > '9' || v > (UINT64_MAX - static_cast<std::uint64_t>(d - '0')) / 10) {
        return bad("VERSION '" + escape(version, false) + "' is not a version number");
      }
      v = v * 10 + static_cast<std::uint64_t>(d - '0');
    }
    c.version = v;
  }
  // VALUE is the rest of the line after the blanks that end the previous word, byte for byte.
  while (pos < line.size() && is_blank(line[pos])) ++pos;
  c.value = line.substr(pos);
  return c;
}

/// Whether a write to `key` reaches a watch on `pattern`, by kv_store::watch's documented rule: an exact
/// key, `prefix/*` (every key under `prefix/`), or `*`. Only tells watch which events to wait for.
bool pattern_matches(std::string_view pattern, std::string_view key) {
  if (pattern == "*") return true;
  if (pattern.ends_with("/*")) return key.starts_with(pattern.substr(0, pattern.size() - 1));
  return key == pattern;
}

std::string_view event_type_name(kv_event_type t) {
  switch (t) {
    case kv_event_type::created: return "created";
    case kv_event_type::updated: return "updated";
    case kv_event_type::deleted: return "deleted";
    case kv_event_type::lagged: return "lagged";
  }
  return "unknown";
}

void print_event(const kv_event& e, bool as_json) {
  const bool lagged = e.type == kv_event_type::lagged;
  if (as_json) {
    json j;
    j["seq"] = e.seq;
    j["type"] = event_type_name(e.type);
    if (!lagged) {
      put_bytes(j, "key", e.key);
      j["version"] = e.version;
      if (e.value) put_bytes(j, "value", *e.value);
    }
    std::cout << j.dump() << '\n';
    return;
  }
  std::cout << e.seq << ' ' << event_type_name(e.type);
  if (!lagged) {
    std::cout << ' ' << escape(e.key, true) << ' ' << e.version;
    if (e.value) std::cout << ' ' << escape(*e.value, false);
  }
  std::cout << '\n';
}

/// Prints events from `stream` until one at `seq` or later has come (0: only those ready now). Errors: as
/// watch_stream::next_for; aborted after a lagged event (printed first); corruption when the event of a
/// write never comes.
result<void> print_events(watch_stream& stream, std::uint64_t seq, bool as_json) {
  while (true) {
    auto event = stream.next_for(seq == 0 ? std::chrono::nanoseconds{0} : std::chrono::nanoseconds{event_wait});
    if (!event) return tl::unexpected(std::move(event.error()));
    if (!*event) {
      if (seq == 0) return {};
      return make_error(errc::corruption, "the watch delivered no event for seq " + std::to_string(seq) + " within " +
                                              std::to_string(event_wait.count()) + " s");
    }
    print_event(**event, as_json);
    if ((*event)->type == kv_event_type::lagged) {
      const std::string from = std::to_string((*event)->seq);
      return make_error(errc::aborted, "the watch fell behind after seq " + from + "; resume with --from " + from);
    }
    if (seq != 0 && (*event)->seq >= seq) return {};
  }
}

/// Applies one script command; whether it wrote (a del of a missing key writes nothing).
result<bool> apply(kv_store& kv, const script_command& c) {
  switch (c.what) {
    case script_command::kind::set: {
      auto v = kv.set(c.key, c.value);
      if (!v) return tl::unexpected(std::move(v.error()));
      return true;
    }
    case script_command::kind::erase: {
      auto v = kv.erase(c.key);
      if (!v) return tl::unexpected(std::move(v.error()));
      return *v != 0;
    }
    case script_command::kind::cas: {
      auto v = kv.compare_and_set(c.key, c.version, c.value);
      if (!v) return tl::unexpected(describe_conflict(v.error()));
      return true;
    }
  }
  return false;
}

/// The script loop of `watch`: each line applied, then the events it caused printed before the next line
/// is read, so the output follows the script and a long script never lets the watch lag.
result<void> run_script(kv_store& kv, watch_stream& stream, const kv_cli_options& o) {
  const auto at_line = [](std::size_t n, const error& e) {
    return tl::unexpected(error(e.code(), "line " + std::to_string(n) + ": " + std::string(e.message())));
  };
  // Replayed history (--from) is delivered when the watch is made.
  if (auto ok = print_events(stream, 0, o.json); !ok) return ok;
  if (auto ok = flush_stdout(); !ok) return ok;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    auto command = parse_script_line(line, line_no);
    if (!command) return tl::unexpected(std::move(command.error()));
    if (!*command) continue;
    auto wrote = apply(kv, **command);
    if (!wrote) return at_line(line_no, wrote.error());
    // This process is the store's only writer, so current_seq() is the seq of the write just made.
    const std::uint64_t seq = *wrote && pattern_matches(o.pattern, (*command)->key) ? kv.current_seq() : 0;
    if (auto ok = print_events(stream, seq, o.json); !ok) return at_line(line_no, ok.error());
    if (auto ok = flush_stdout(); !ok) return ok;
  }
  if (std::cin.bad()) return make_error(errc::io_error, "reading the script from stdin failed");
  return print_events(stream, 0, o.json);
}

int run_watch(const kv_cli_options& o) {
  auto kv = open_kv(o, true);
  if (!kv) return fail("kv watch", kv.error());
  watch_options wo;
  if (o.from_option->count() > 0) wo.from_seq = o.from_seq;
  auto stream = (*kv)->watch(o.pattern, wo);
  if (!stream) return fail("kv watch", stream.error());
  auto done = run_script(**kv, **stream, o);
  // Events printed so far stay printed; a failure is reported after them.
  (void)flush_stdout();
  stream->reset();
  if (auto ok = close_kv(*kv); !ok && done) done = tl::unexpected(std::move(ok.error()));
  if (!done) return fail("kv watch", done.error());
  if (auto ok = flush_stdout(); !ok) return fail("kv watch", ok.error());
  return 0;
}

// ---- Registration ----

void add_store_options(CLI::App* cmd, kv_cli_options& o, bool writes) {
  cmd->add_option("path", o.path, "sharded store directory")->required();
  cmd->add_option("--shards", o.shards, "shard count (default 0: the store's, or one per core when creating)");
  if (writes) {
    cmd->add_option("--durability", o.durability_name, "when writes are durable: none, log (default) or sync")
        ->check(CLI::IsMember({"none", "log", "sync"}));
  }
}

run_function setup(CLI::App& app) {
  auto o = std::make_shared<kv_cli_options>();
  app.require_subcommand(1);

  o->get_cmd = app.add_subcommand("get", "print KEY's value bytes (nothing, exit 0, when missing)");
  add_store_options(o->get_cmd, *o, false);
  o->get_cmd->add_option("key", o->key, "key")->required();
  o->get_cmd->add_flag("--json", o->json, "print the entry as a JSON object");

  o->set_cmd = app.add_subcommand("set", "create or update KEY; prints the new version");
  add_store_options(o->set_cmd, *o, true);
  o->set_cmd->add_option("key", o->key, "key")->required();
  o->set_cmd->add_option("value", o->value, "value; - reads it from stdin")->required();
  o->set_cmd->add_flag("--json", o->json, "print a JSON object");

  o->del_cmd = app.add_subcommand("del", "remove KEY; prints the removed version (0 when missing)");
  add_store_options(o->del_cmd, *o, true);
  o->del_cmd->add_option("key", o->key, "key")->required();
  o->del_cmd->add_flag("--json", o->json, "print a JSON object");

  o->list_cmd = app.add_subcommand("list", "keys starting with PREFIX, in order");
  add_store_options(o->list_cmd, *o, false);
  o->list_cmd->add_option("prefix", o->prefix, "key prefix (default: every key)");
  o->list_cmd->add_option("--limit", o->limit, "at most this many (default 0: all)");
  o->list_cmd->add_flag("--json", o->json, "print a JSON array");
  o->list_cmd->add_flag("--values", o->values, "print entries as JSON lines: key, value, version, times");

  o->cas_cmd = app.add_subcommand("cas", "set KEY only if its version is EXPECTED_VERSION (0: missing)");
  add_store_options(o->cas_cmd, *o, true);
  o->cas_cmd->add_option("key", o->key, "key")->required();
  o->cas_cmd->add_option("expected_version", o->expected, "the version KEY must have (0: missing)")->required();
  o->cas_cmd->add_option("value", o->value, "value; - reads it from stdin")->required();
  o->cas_cmd->add_flag("--json", o->json, "print a JSON object");

  o->watch_cmd = app.add_subcommand("watch", "apply a script of writes from stdin, print PATTERN's events");
  add_store_options(o->watch_cmd, *o, true);
  o->watch_cmd->add_option("pattern", o->pattern, "an exact key, PREFIX/* or *")->required();
  o->from_option = o->watch_cmd->add_option("--from", o->from_seq, "first replay every change after this seq");
  o->watch_cmd->add_flag("--json", o->json, "print JSON lines");

  return [o] {
    if (o->get_cmd->parsed()) return run_get(*o);
    if (o->set_cmd->parsed()) return run_set(*o);
    if (o->del_cmd->parsed()) return run_del(*o);
    if (o->list_cmd->parsed()) return run_list(*o);
    if (o->cas_cmd->parsed()) return run_cas(*o);
    return run_watch(*o);
  };
}

const command_registration registration{
    {"kv", "the versioned key-value store: get, set, del, list, cas, watch", &setup}};

}  // namespace
}  // namespace tessel::tools
