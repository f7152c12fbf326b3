// Key generation: see key_generator.hpp.
#include "bench/support/key_generator.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "bench/support/access_order.hpp"
#include "bench/support/rng.hpp"

namespace tessel::bench {
namespace {

// Sub-streams of the seed, so the key sets do not change when, say, the number of prefixes does.
constexpr std::uint64_t stream_present = 1;
constexpr std::uint64_t stream_absent = 2;
constexpr std::uint64_t stream_prefixes = 3;
constexpr std::uint64_t stream_load_order = 4;

constexpr std::array<std::string_view, path_states_per_instance> path_states = {
    "config", "health", "lease", "metrics/cpu", "metrics/mem", "offset", "status", "watermark"};

void append_number(std::string& out, std::uint64_t n, int min_digits) {
  std::array<char, 24> digits{};
  const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), n);
  const auto written = static_cast<int>(end - digits.data());
  for (int i = written; i < min_digits; ++i) out.push_back('0');
  out.append(digits.data(), end);
}

std::string app_prefix(std::uint64_t app) {
  std::string s = "/workloads/app-";
  append_number(s, app, 6);
  s.push_back('/');
  return s;
}

void push_path(key_set& out, std::string& scratch, std::uint64_t app, std::uint64_t instance, std::string_view state) {
  scratch = app_prefix(app);
  scratch += "instances/i";
  append_number(scratch, instance, 1);
  scratch.push_back('/');
  scratch += state;
  out.push_back(scratch);
}

void push_random(key_set& out, rng& r) {
  std::array<char, random_key_size> key{};
  for (std::size_t i = 0; i < key.size(); i += 8) {
    const std::uint64_t word = r.next();
    std::memcpy(key.data() + i, &word, 8);
  }
  out.push_back({key.data(), key.size()});
}

key_workload make_path_workload(std::size_t present, std::size_t absent, std::size_t prefixes, std::uint64_t seed) {
  key_workload w;
  w.kind = key_kind::path;
  constexpr std::size_t typical_path_size = 48;
  std::string scratch;

  // Present keys app by app (key order), then shuffled into load order below.
  rng shape = rng::derived(seed, stream_present);
  std::vector<std::uint32_t> instances;  // per app: instances so far; the next new instance gets this number
  key_set ordered;
  ordered.reserve(present, present * typical_path_size);
  while (ordered.size() < present) {
    const std::uint64_t app = instances.size();
    const auto count = static_cast<std::uint32_t>(1 + shape.below(path_max_instances_per_app));
    instances.push_back(count);
    for (std::uint32_t i = 0; i < count && ordered.size() < present; ++i) {
      for (const std::string_view state : path_states) {
        if (ordered.size() == present) break;
        push_path(ordered, scratch, app, i, state);
      }
    }
  }
  rng load_order = rng::derived(seed, stream_load_order);
  w.present = ordered.gather(random_distinct(present, present, load_order));
  ordered = key_set();

  // Absent keys: whole new instances of random existing apps, numbered past the app's last instance (which a
  // truncated last app may not have filled, so these never collide with a present key).
  rng grow = rng::derived(seed, stream_absent);
  key_set fresh;
  fresh.reserve(absent, absent * typical_path_size);
  while (fresh.size() < absent) {
    const std::size_t app = grow.below(instances.size());
    const std::uint32_t instance = instances[app]++;
    for (const std::string_view state : path_states) {
      if (fresh.size() == absent) break;
      push_path(fresh, scratch, app, instance, state);
    }
  }
  w.absent = fresh.gather(random_distinct(absent, absent, grow));

  // Prefixes name apps uniformly (not through a random key, which would favour big apps), so a scan returns
  // 100 keys on average.
  rng pick = rng::derived(seed, stream_prefixes);
  w.scan_prefixes.reserve(prefixes, prefixes * 24);
  for (std::size_t i = 0; i < prefixes; ++i) w.scan_prefixes.push_back(app_prefix(pick.below(instances.size())));
  return w;
}

key_workload make_random_workload(std::size_t present, std::size_t absent, std::size_t prefixes, std::uint64_t seed) {
  key_workload w;
  w.kind = key_kind::random16;
  // Generated in random order already: no shuffle needed for the load order.
  rng keys = rng::derived(seed, stream_present);
  w.present.reserve(present, present * random_key_size);
  for (std::size_t i = 0; i < present; ++i) push_random(w.present, keys);
  rng more = rng::derived(seed, stream_absent);
  w.absent.reserve(absent, absent * random_key_size);
  for (std::size_t i = 0; i < absent; ++i) push_random(w.absent, more);
  // A prefix of a random present key, so every scan finds at least one key.
  rng pick = rng::derived(seed, stream_prefixes);
  w.scan_prefixes.reserve(prefixes, prefixes * random_prefix_size);
  for (std::size_t i = 0; i < prefixes; ++i) {
    w.scan_prefixes.push_back(w.present[pick.below(present)].substr(0, random_prefix_size));
  }
  return w;
}

}  // namespace

std::string_view to_string(key_kind kind) noexcept {
  switch (kind) {
    case key_kind::random16: return "random16";
    case key_kind::path: return "path";
  }
  return "unknown";
}

std::optional<key_kind> parse_key_kind(std::string_view name) noexcept {
  if (name == "random16") return key_kind::random16;
  if (name == "path") return key_kind::path;
  return std::nullopt;
}

key_workload make_key_workload(key_kind kind, std::size_t present, std::size_t absent, std::size_t prefixes,
                               std::uint64_t seed) {
  return kind == key_kind::path ? make_path_workload(present, absent, prefixes, seed)
                                : make_random_workload(present, absent, prefixes, seed);
}

}  // namespace tessel::bench
