// `tessel bench --recovery`: see recovery_bench.hpp.
#include "tools/recovery_bench.hpp"

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "tessel/store.hpp"

#include "bench/support/rng.hpp"
#include "store/store_impl.hpp"

namespace tessel::tools {
namespace {

constexpr std::size_t value_size = 100;

options build_options() {
  options o;
  o.backend = backend::mmap;
  o.durability = durability::none;
  o.checkpoint_log_bytes = ~std::uint64_t{0};  // only the explicit checkpoint
  o.checkpoint_interval = std::chrono::milliseconds(0);
  o.log_segment_bytes = 64ULL << 20;
  return o;
}

std::string key_of(std::uint64_t i) {
  std::string k(16, '\0');
  const std::uint64_t a = i * 0x9E3779B97F4A7C15ULL;
  std::memcpy(k.data(), &a, 8);
  std::memcpy(k.data() + 8, &i, 8);
  return k;
}

/// The child: build, commit, log, die. Exit codes only matter when it fails before the kill.
[[noreturn]] void build_and_die(const std::string& dir, const recovery_bench_config& c) {
  auto s = store::open(dir, build_options());
  if (!s) _exit(20);
  const std::string value(value_size, 'v');
  std::uint64_t keys = 0;
  auto& impl = detail::store_access::impl(**s);
  while (impl.mapped()->file_size() < c.data_mb << 20) {
    if (!(*s)->put(as_bytes(key_of(keys)), as_bytes(value))) _exit(21);
    ++keys;
  }
  // Two commits, so the older meta slot covers the build too and the log holds only what follows.
  if (!(*s)->checkpoint()) _exit(22);
  if (!(*s)->put(as_bytes(key_of(0)), as_bytes(value))) _exit(21);
  if (!(*s)->checkpoint()) _exit(22);
  bench::rng r(7);
  const std::uint64_t log_start = impl.durable()->log->retained_bytes();
  std::string changed(value_size, 'w');
  while (impl.durable()->log->retained_bytes() - log_start < c.log_mb << 20) {
    if (!(*s)->put(as_bytes(key_of(r.below(keys))), as_bytes(changed))) _exit(23);
  }
  if (!(*s)->flush()) _exit(24);
  ::raise(SIGKILL);
  _exit(25);
}

}  // namespace

int run_recovery_bench(const recovery_bench_config& c) {
  const std::string dir = (std::filesystem::path(c.dir) / ("recovery-" + std::to_string(::getpid()))).string();
  std::error_code ec;
  std::filesystem::create_directories(c.dir, ec);
  const pid_t child = ::fork();
  if (child < 0) {
    std::cerr << "tessel bench: fork failed\n";
    return static_cast<int>(errc::io_error);
  }
  if (child == 0) build_and_die(dir, c);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    std::cerr << "tessel bench: the store builder failed (status " << status << ")\n";
    std::filesystem::remove_all(dir, ec);
    return static_cast<int>(errc::io_error);
  }
  options o = build_options();
  o.mode = open_mode::open_existing;
  const auto start = std::chrono::steady_clock::now();
  auto s = store::open(dir, o);
  const double open_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!s) {
    std::cerr << "tessel bench: recovery failed: " << s.error().to_string() << '\n';
    std::filesystem::remove_all(dir, ec);
    return static_cast<int>(s.error().code());
  }
  const auto& d = *detail::store_access::impl(**s).durable();
  const double walk_s = std::chrono::duration<double>(d.recovery.elapsed).count();
  const std::uint64_t data_bytes = std::filesystem::file_size(std::filesystem::path(dir) / "data.tessel", ec);
  std::uint64_t log_bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(dir) / "log", ec)) {
    log_bytes += e.file_size(ec);
  }
  const std::size_t keys = (*s)->len();
  s->reset();
  std::filesystem::remove_all(dir, ec);
  if (c.json) {
    std::cout << nlohmann::json{{"data_file_bytes", data_bytes},
                                {"log_file_bytes", log_bytes},
                                {"keys", keys},
                                {"records_replayed", d.replayed_records},
                                {"open_s", open_s},
                                {"tree_walk_s", walk_s}}
                     .dump(2)
              << '\n';
  } else {
    std::cout << "tessel bench --recovery: open after kill -9\n"
              << "  data file        " << (data_bytes >> 20) << " MiB, " << keys << " keys\n"
              << "  log              " << (log_bytes >> 20) << " MiB on disk, " << d.replayed_records
              << " records replayed\n"
              << "  open             " << open_s << " s (tree walk and allocator rebuild " << walk_s
              << " s, log replay " << open_s - walk_s << " s)\n"
              << "  goal             " << (open_s <= 2.0 ? "PASS" : "MISS")
              << " recovery of 1 GB + 100 MB of log <= 2 s\n";
  }
  return 0;
}

}  // namespace tessel::tools
