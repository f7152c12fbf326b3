// Shared helpers for the art tests: a tree over its own dram region, a std::map reference model, a seeded
// random source, and checks that compare the tree (live or frozen) with the model: size, both iteration
// directions, point lookups, lower-bound seeks and bounded scans. Each check returns an AssertionResult that
// names the first difference, so a failure prints one line instead of thousands.
//
// Thread safety: test code, one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/bytes.hpp"

#include "common/block_allocator.hpp"
#include "index/art.hpp"
#include "index/node_layout.hpp"
#include "mmap/mapped_region.hpp"

namespace tessel::index::test {

using tree_type = art<mmap::mapped_region>;
using model = std::map<std::string, std::string>;  // std::string orders by unsigned byte, as the tree does

/// Deterministic across platforms and standard libraries (splitmix64), so a seed names the same run
/// everywhere.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform enough in [0, n); n > 0.
  std::size_t below(std::size_t n) noexcept { return next() % n; }
  bool percent(unsigned p) noexcept { return next() % 100 < p; }
  char byte() noexcept { return static_cast<char>(next() & 0xFF); }
  std::string bytes(std::size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = byte();
    return s;
  }

 private:
  std::uint64_t state_;
};

[[nodiscard]] inline key_view kv(const std::string& s) noexcept { return as_bytes(s); }
[[nodiscard]] inline std::string str(bytes_view b) { return to_string(b); }

/// A key for messages: printable bytes as they are, the rest as \xHH; long keys shortened in the middle.
[[nodiscard]] inline std::string show(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (n > 96 && i == 40) {
      out += "...(" + std::to_string(n - 80) + " bytes)...";
      i = n - 40;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out + "\"";
}
[[nodiscard]] inline std::string show(bytes_view b) { return show(as_string_view(b)); }

/// A tree over a region of its own. The reservation is small: tests never come near it.
struct tree_fixture {
  explicit tree_fixture(std::size_t reserve = std::size_t{4} << 30) : region(make_region(reserve)), tree(*region) {}
  tree_fixture(const tree_fixture&) = delete;
  tree_fixture& operator=(const tree_fixture&) = delete;

  static std::unique_ptr<mmap::mapped_region> make_region(std::size_t reserve) {
    auto r = mmap::mapped_region::create_anonymous(reserve, false);
    if (!r) ADD_FAILURE() << "mapped_region::create_anonymous: " << r.error().to_string();
    return r ? std::move(*r) : nullptr;
  }

  std::unique_ptr<mmap::mapped_region> region;
  tree_type tree;
};

/// Upserts and mirrors into the model; fails when the tree's inserted/replaced answer disagrees.
inline ::testing::AssertionResult put(tree_type& t, model& m, const std::string& k, const std::string& v) {
  const auto r = t.upsert(kv(k), kv(v));
  if (!r) return ::testing::AssertionFailure() << "upsert " << show(k) << ": " << r.error().to_string();
  const bool inserted = m.insert_or_assign(k, v).second;
  const upsert_result want = inserted ? upsert_result::inserted : upsert_result::replaced;
  if (*r != want) {
    return ::testing::AssertionFailure() << "upsert " << show(k) << " answered "
                                         << (*r == upsert_result::inserted ? "inserted" : "replaced");
  }
  return ::testing::AssertionSuccess();
}

/// Erases and mirrors into the model; fails when the tree's found/absent answer disagrees.
inline ::testing::AssertionResult del(tree_type& t, model& m, const std::string& k) {
  const auto r = t.erase(kv(k));
  if (!r) return ::testing::AssertionFailure() << "erase " << show(k) << ": " << r.error().to_string();
  const bool was_present = m.erase(k) != 0;
  if (*r != was_present) {
    return ::testing::AssertionFailure() << "erase " << show(k) << " answered " << *r
                                         << ", model had it: " << was_present;
  }
  return ::testing::AssertionSuccess();
}

/// find(key) in the live tree (or `at`) agrees with the model.
inline ::testing::AssertionResult finds(const tree_type& t, const model& m, const std::string& k,
                                        const frozen_root* at = nullptr) {
  const std::optional<value_view> got = at ? t.find(*at, kv(k)) : t.find(kv(k));
  const auto it = m.find(k);
  if (it == m.end()) {
    if (!got) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "find " << show(k) << " found " << show(*got) << ", model has none";
  }
  if (!got) return ::testing::AssertionFailure() << "find " << show(k) << " missed; model has " << show(it->second);
  if (as_string_view(*got) != it->second) {
    return ::testing::AssertionFailure() << "find " << show(k) << " gave " << show(*got) << ", model has "
                                         << show(it->second);
  }
  return ::testing::AssertionSuccess();
}

/// Where a cursor stands, compared with a model iterator (end() = invalid). Callers append what they did
/// on failure, so the message costs nothing on success.
inline ::testing::AssertionResult cursor_at(const art_cursor<mmap::mapped_region>& c, const model& m,
                                            model::const_iterator want) {
  if (want == m.end()) {
    if (!c.valid()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "cursor at " << show(c.key()) << ", expected invalid";
  }
  if (!c.valid()) return ::testing::AssertionFailure() << "cursor invalid, expected " << show(want->first);
  if (as_string_view(c.key()) != want->first) {
    return ::testing::AssertionFailure() << "cursor at " << show(c.key()) << ", expected " << show(want->first);
  }
  if (as_string_view(c.value()) != want->second) {
    return ::testing::AssertionFailure() << "value at " << show(want->first) << " is " << show(c.value())
                                         << ", expected " << show(want->second);
  }
  return ::testing::AssertionSuccess();
}

[[nodiscard]] inline model::const_iterator last_at_or_before(const model& m, const std::string& k) {
  auto it = m.upper_bound(k);
  return it == m.begin() ? m.end() : std::prev(it);
}

/// seek(k) is lower_bound(k), seek_for_prev(k) is the last key <= k, and one step each way from there
/// agrees too.
inline ::testing::AssertionResult seeks(const tree_type& t, const model& m, const std::string& k,
                                        const frozen_root* at = nullptr) {
  auto c = at ? t.cursor(*at) : t.cursor();
  c.seek(kv(k));
  auto want = m.lower_bound(k);
  if (auto r = cursor_at(c, m, want); !r) return r << " at seek(" << show(k) << ")";
  if (want != m.end()) {
    c.next();
    if (auto r = cursor_at(c, m, std::next(want)); !r) return r << " at next after seek(" << show(k) << ")";
    c.seek(kv(k));
    c.prev();
    const auto before = want == m.begin() ? m.end() : std::prev(want);
    if (auto r = cursor_at(c, m, before); !r) return r << " at prev after seek(" << show(k) << ")";
  }
  c.seek_for_prev(kv(k));
  want = last_at_or_before(m, k);
  if (auto r = cursor_at(c, m, want); !r) return r << " at seek_for_prev(" << show(k) << ")";
  if (want != m.end()) {
    c.next();
    if (auto r = cursor_at(c, m, std::next(want)); !r) return r << " at next after seek_for_prev(" << show(k) << ")";
  }
  return ::testing::AssertionSuccess();
}

inline constexpr std::size_t unlimited = ~std::size_t{0};

/// Every key with `prefix`, in order, by a scoped seek + next, as a prefix scan does; only the first `limit`
/// entries when a limit is given. The cursor itself must end after the last key with the prefix.
inline ::testing::AssertionResult prefix_scan_matches(const tree_type& t, const model& m, const std::string& prefix,
                                                      const frozen_root* at = nullptr, std::size_t limit = unlimited) {
  auto c = at ? t.cursor(*at) : t.cursor();
  c.seek_within(kv(prefix), prefix.size());
  auto it = m.lower_bound(prefix);
  std::size_t n = 0;
  for (; c.valid(); c.next(), ++it, ++n) {
    if (n == limit) return ::testing::AssertionSuccess();
    if (it == m.end() || !it->first.starts_with(prefix)) {
      return ::testing::AssertionFailure() << "prefix scan " << show(prefix) << " has extra key " << show(c.key());
    }
    if (auto r = cursor_at(c, m, it); !r) return r << " at prefix scan " << show(prefix) << " entry " << n;
  }
  if (it != m.end() && it->first.starts_with(prefix)) {
    return ::testing::AssertionFailure() << "prefix scan " << show(prefix) << " stopped before " << show(it->first);
  }
  return ::testing::AssertionSuccess();
}

/// Keys in [start, end), in order, by seek_range + next, as a range scan does; only the first `limit` entries
/// when a limit is given. The cursor must stay among the keys that start with the bytes start and end share.
inline ::testing::AssertionResult range_scan_matches(const tree_type& t, const model& m, const std::string& start,
                                                     const std::string& end, const frozen_root* at = nullptr,
                                                     std::size_t limit = unlimited) {
  auto c = at ? t.cursor(*at) : t.cursor();
  const std::size_t shared = shared_prefix_size(kv(start), kv(end));
  c.seek_range(kv(start), kv(end));
  auto it = m.lower_bound(start);
  const auto stop = end <= start ? it : m.lower_bound(end);
  std::size_t n = 0;
  for (; c.valid() && compare(c.key(), kv(end)) < 0; c.next(), ++it, ++n) {
    if (n == limit) return ::testing::AssertionSuccess();
    if (!starts_with(c.key(), kv(start.substr(0, shared)))) {
      return ::testing::AssertionFailure() << "range scan [" << show(start) << ", " << show(end)
                                           << ") left the keys its bounds share at " << show(c.key());
    }
    if (it == stop) {
      return ::testing::AssertionFailure()
             << "range scan [" << show(start) << ", " << show(end) << ") has extra key " << show(c.key());
    }
    if (auto r = cursor_at(c, m, it); !r)
      return r << " at range scan [" << show(start) << ", " << show(end) << ") entry " << n;
  }
  if (it != stop) {
    return ::testing::AssertionFailure() << "range scan [" << show(start) << ", " << show(end) << ") stopped before "
                                         << show(it->first);
  }
  return ::testing::AssertionSuccess();
}

/// Full iteration both ways equals the model.
inline ::testing::AssertionResult iterates(const tree_type& t, const model& m, const frozen_root* at = nullptr) {
  auto c = at ? t.cursor(*at) : t.cursor();
  std::size_t n = 0;
  auto it = m.begin();
  for (c.seek_to_first(); c.valid(); c.next(), ++it, ++n) {
    if (it == m.end()) return ::testing::AssertionFailure() << "forward: extra key " << show(c.key());
    if (auto r = cursor_at(c, m, it); !r) return r << " at forward entry " << n;
  }
  if (it != m.end()) return ::testing::AssertionFailure() << "forward: stopped before " << show(it->first);
  auto rit = m.rbegin();
  n = 0;
  for (c.seek_to_last(); c.valid(); c.prev(), ++rit, ++n) {
    if (rit == m.rend()) return ::testing::AssertionFailure() << "backward: extra key " << show(c.key());
    if (auto r = cursor_at(c, m, std::prev(rit.base())); !r) return r << " at backward entry " << n;
  }
  if (rit != m.rend()) return ::testing::AssertionFailure() << "backward: stopped before " << show(rit->first);
  return ::testing::AssertionSuccess();
}

/// The whole comparison: verify(), size, both iteration directions, and find() of every model key.
inline ::testing::AssertionResult matches(const tree_type& t, const model& m, const frozen_root* at = nullptr) {
  if (const auto v = at ? t.verify(*at) : t.verify(); !v) {
    return ::testing::AssertionFailure() << "verify: " << v.error().to_string();
  }
  const std::size_t size = at ? at->size : t.size();
  if (size != m.size()) return ::testing::AssertionFailure() << "size " << size << ", model " << m.size();
  if (auto r = iterates(t, m, at); !r) return r;
  for (const auto& [k, v] : m) {
    const std::optional<value_view> got = at ? t.find(*at, kv(k)) : t.find(kv(k));
    if (!got) return ::testing::AssertionFailure() << "find " << show(k) << " missed; model has " << show(v);
    if (as_string_view(*got) != v) {
      return ::testing::AssertionFailure() << "find " << show(k) << " gave " << show(*got) << ", model has " << show(v);
    }
  }
  return ::testing::AssertionSuccess();
}

/// Probe keys around `k`: k itself, its prefixes, k extended by 0x00 and 0xFF, and at up to `positions`
/// places (spread over the key) the key cut there with the byte there lowered or raised by one, with and
/// without a tail. Together they land on every side of every node prefix and child byte the key passes.
inline std::vector<std::string> probes_around(const std::string& k, std::size_t positions = 64) {
  std::vector<std::string> out;
  out.push_back(k);
  out.push_back(k + '\0');
  out.push_back(k + '\xff');
  const std::size_t n = k.size();
  const std::size_t step = n <= positions ? 1 : n / positions;
  for (std::size_t i = 0; i < n; i += step) {
    const std::string head = k.substr(0, i);
    out.push_back(head);
    const auto c = static_cast<unsigned char>(k[i]);
    if (c > 0) {
      out.push_back(head + static_cast<char>(c - 1));
      out.push_back(head + static_cast<char>(c - 1) + k.substr(i + 1));
    }
    if (c < 0xFF) {
      out.push_back(head + static_cast<char>(c + 1));
      out.push_back(head + static_cast<char>(c + 1) + k.substr(i + 1));
    }
  }
  if (n > 0) out.push_back(k.substr(0, n - 1));
  return out;
}

/// Bytes of every block reachable from `root` (inner nodes, terminals, leaves), as the region rounds them:
/// what a region holding nothing but this tree reports as live.
[[nodiscard]] inline std::size_t reachable_bytes(const mmap::mapped_region& region, node_ref root) {
  std::byte* const base = region.base();
  std::size_t bytes = 0;
  std::vector<node_ref> pending;
  if (!root.is_empty()) pending.push_back(root);
  while (!pending.empty()) {
    const node_ref r = pending.back();
    pending.pop_back();
    bytes += block_allocator::rounded_size(block_size(base, r));
    if (!r.is_inner()) continue;
    for (int pos = next_pos(base, r, terminal_pos - 1); pos != npos; pos = next_pos(base, r, pos)) {
      pending.push_back(child_at(base, r, pos));
    }
  }
  return bytes;
}

using loader = tree_type::sorted_loader;

/// Loads `m` (in its order) into the empty tree of `f`.
inline ::testing::AssertionResult load(tree_fixture& f, const model& m) {
  loader l(f.tree);
  for (const auto& [k, v] : m) {
    if (auto ok = l.add(kv(k), kv(v)); !ok) {
      return ::testing::AssertionFailure() << "add " << show(k) << ": " << ok.error().to_string();
    }
  }
  if (auto ok = l.finish(); !ok) return ::testing::AssertionFailure() << "finish: " << ok.error().to_string();
  return ::testing::AssertionSuccess();
}

/// Node counts by kind and the depth: the shape (a loaded tree's must be what upserts leave).
inline ::testing::AssertionResult same_shape(const tree_type& a, const tree_type& b) {
  const tree_stats x = a.stats();
  const tree_stats y = b.stats();
  if (x.n4 != y.n4 || x.n16 != y.n16 || x.n32 != y.n32 || x.n48 != y.n48 || x.n256 != y.n256 ||
      x.max_depth != y.max_depth) {
    return ::testing::AssertionFailure() << "loaded n4/16/32/48/256 " << x.n4 << "/" << x.n16 << "/" << x.n32 << "/"
                                         << x.n48 << "/" << x.n256 << " depth " << x.max_depth << "; upserted " << y.n4
                                         << "/" << y.n16 << "/" << y.n32 << "/" << y.n48 << "/" << y.n256 << " depth "
                                         << y.max_depth;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace tessel::index::test
