// The structures `tessel bench` measures, behind one shape so the phase runner is a single template and every
// structure replays exactly the same operations: tessel::store, std::map and std::unordered_map.
//
// Each operation is what a careful user of that structure would write: heterogeneous lookup (no std::string
// built to look a key up), find-then-assign for overwrites, emplace for inserts. Every get reads its value's
// size and first and last byte (sink.hpp's touch), as a caller would use the value.
//
// Hot path: get, put and erase are inlined into the runner's timed region; no virtual call.
// Thread safety: one thread per subject.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "tessel/store.hpp"

#include "bench/support/outcome.hpp"
#include "bench/support/sink.hpp"
#include "bench/support/system_info.hpp"
#include "tools/bench_results.hpp"
#include "tools/heap_usage.hpp"

namespace tessel::tools {

using bench::lookup;
using bench::scan_outcome;

/// Where memory stood before a structure was built, so its load can be measured.
struct memory_baseline {
  std::size_t heap = 0;
  std::optional<std::size_t> huge_pages;
  [[nodiscard]] static memory_baseline now() { return {heap_in_use(), bench::anon_huge_page_bytes()}; }
};

class tessel_subject {
 public:
  static constexpr std::string_view name = tessel_name;
  static constexpr bool ordered = true;

  [[nodiscard]] static result<tessel_subject> create(bool huge_pages) noexcept {
    options opts;
    opts.huge_pages = huge_pages;
    auto s = store::open(opts);
    if (!s) return tl::unexpected(s.error());
    return tessel_subject(std::move(*s));
  }

  [[nodiscard]] lookup get(std::string_view key) const noexcept {
    const result<value_view> r = store_->get(as_bytes(key));
    if (!r) return {};
    return {r->data(), r->size(), true};
  }
  [[nodiscard]] result<void> put(std::string_view key, std::string_view value) noexcept {
    return store_->put(as_bytes(key), as_bytes(value));
  }
  [[nodiscard]] result<bool> erase(std::string_view key) noexcept { return store_->erase(as_bytes(key)); }
  [[nodiscard]] result<void> compact() noexcept { return store_->compact(); }

  [[nodiscard]] scan_outcome prefix_scan(std::string_view prefix) const noexcept {
    scan_outcome out;
    for (const entry& e : store_->prefix_scan(as_bytes(prefix))) {
      ++out.count;
      out.checksum += bench::touch(e.key.data(), e.key.size()) + bench::touch(e.value.data(), e.value.size());
    }
    return out;
  }
  [[nodiscard]] scan_outcome range_scan(std::string_view start, std::string_view end) const noexcept {
    scan_outcome out;
    for (const entry& e : store_->range_scan(as_bytes(start), as_bytes(end))) {
      ++out.count;
      out.checksum += bench::touch(e.key.data(), e.key.size()) + bench::touch(e.value.data(), e.value.size());
    }
    return out;
  }
  [[nodiscard]] scan_outcome full_scan() const noexcept {
    scan_outcome out;
    cursor c = store_->new_cursor();
    for (c.seek_to_first(); c.valid(); c.next()) {
      ++out.count;
      const key_view k = c.key();
      const value_view v = c.value();
      out.checksum += bench::touch(k.data(), k.size()) + bench::touch(v.data(), v.size());
    }
    return out;
  }
  [[nodiscard]] std::size_t size() const noexcept { return store_->len(); }

  [[nodiscard]] memory_result memory(const memory_baseline& before) const {
    const memory_usage m = store_->memory();
    memory_result r;
    r.structure = name;
    r.measured_by = "region";
    r.bytes = m.live_bytes;
    r.leaf_bytes = m.leaf_bytes;
    r.free_bytes = m.free_bytes;
    r.committed_bytes = m.committed_bytes;
    const std::optional<std::size_t> huge = bench::anon_huge_page_bytes();
    if (huge && before.huge_pages) r.huge_page_bytes = *huge > *before.huge_pages ? *huge - *before.huge_pages : 0;
    return r;
  }

 private:
  explicit tessel_subject(std::unique_ptr<store> s) noexcept : store_(std::move(s)) {}
  std::unique_ptr<store> store_;
};

/// Shared by both std containers: an std::string key and value per entry, as a typical user would keep them.
template <class Container, const std::string_view& Name, bool Ordered>
class std_subject {
 public:
  static constexpr std::string_view name = Name;
  static constexpr bool ordered = Ordered;

  [[nodiscard]] static result<std_subject> create(bool /*huge_pages*/) noexcept { return std_subject(); }

  [[nodiscard]] lookup get(std::string_view key) const noexcept {
    const auto it = map_.find(key);
    if (it == map_.end()) return {};
    return {reinterpret_cast<const std::byte*>(it->second.data()), it->second.size(), true};
  }
  [[nodiscard]] result<void> put(std::string_view key, std::string_view value) {
    if constexpr (Ordered) {
      // One descent serves both cases: lower_bound finds the key or the hint for the insert.
      const auto it = map_.lower_bound(key);
      if (it != map_.end() && it->first == key) {
        it->second.assign(value);
      } else {
        map_.emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(key), std::forward_as_tuple(value));
      }
    } else {
      const auto it = map_.find(key);
      if (it != map_.end()) {
        it->second.assign(value);
      } else {
        map_.emplace(std::piecewise_construct, std::forward_as_tuple(key), std::forward_as_tuple(value));
      }
    }
    return {};
  }
  [[nodiscard]] result<bool> erase(std::string_view key) {
    const auto it = map_.find(key);
    if (it == map_.end()) return false;
    map_.erase(it);
    return true;
  }

  [[nodiscard]] scan_outcome prefix_scan(std::string_view prefix) const noexcept requires Ordered {
    scan_outcome out;
    for (auto it = map_.lower_bound(prefix); it != map_.end() && it->first.starts_with(prefix); ++it) {
      ++out.count;
      out.checksum +=
          bench::touch(it->first.data(), it->first.size()) + bench::touch(it->second.data(), it->second.size());
    }
    return out;
  }
  [[nodiscard]] scan_outcome range_scan(std::string_view start, std::string_view end) const noexcept requires Ordered {
    scan_outcome out;
    for (auto it = map_.lower_bound(start); it != map_.end() && it->first < end; ++it) {
      ++out.count;
      out.checksum +=
          bench::touch(it->first.data(), it->first.size()) + bench::touch(it->second.data(), it->second.size());
    }
    return out;
  }
  [[nodiscard]] scan_outcome full_scan() const noexcept requires Ordered {
    scan_outcome out;
    for (const auto& [k, v] : map_) {
      ++out.count;
      out.checksum += bench::touch(k.data(), k.size()) + bench::touch(v.data(), v.size());
    }
    return out;
  }
  [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }

  [[nodiscard]] memory_result memory(const memory_baseline& before) const {
    memory_result r;
    r.structure = name;
    r.measured_by = "mallinfo2";
    const std::size_t now = heap_in_use();
    r.bytes = now > before.heap ? now - before.heap : 0;
    return r;
  }

 private:
  std_subject() = default;
  Container map_;
};

/// Transparent hashing, so find(std::string_view) builds no std::string.
struct string_hash {
  using is_transparent = void;
  [[nodiscard]] std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

using std_map_subject = std_subject<std::map<std::string, std::string, std::less<>>, std_map_name, true>;
using std_unordered_map_subject =
    std_subject<std::unordered_map<std::string, std::string, string_hash, std::equal_to<>>, std_unordered_map_name,
                false>;

}  // namespace tessel::tools
