// key_set: many variable-length keys in one contiguous buffer. Workloads keep millions of keys; one
// std::string each would cost an allocation and a cache miss per key, and that miss would land inside the
// timed region. Access sequences are copied out in the order they are used (gather), so reading the next key
// is a sequential read the prefetcher hides.
//
// Thread safety: const methods are safe from many threads; anything else needs one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tessel/bytes.hpp"

namespace tessel::bench {

class key_set {
 public:
  key_set() = default;

  void reserve(std::size_t keys, std::size_t bytes);
  void push_back(std::string_view key);
  void clear() noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return offsets_.size() - 1; }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  /// REQUIRES: i < size(). The view lives as long as the set is not changed.
  [[nodiscard]] std::string_view operator[](std::size_t i) const noexcept {
    return {bytes_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]};
  }
  [[nodiscard]] key_view bytes(std::size_t i) const noexcept { return as_bytes((*this)[i]); }
  /// Sum of the key lengths.
  [[nodiscard]] std::size_t total_bytes() const noexcept { return bytes_.size(); }
  /// Memory the set holds, for reports.
  [[nodiscard]] std::size_t footprint() const noexcept {
    return bytes_.capacity() + offsets_.capacity() * sizeof(std::size_t);
  }

  /// A new set with the keys at `indices`, in that order. REQUIRES: every index < size().
  [[nodiscard]] key_set gather(std::span<const std::uint32_t> indices) const;
  /// A new set with the keys [first, last). REQUIRES: first <= last <= size().
  [[nodiscard]] key_set slice(std::size_t first, std::size_t last) const;

 private:
  std::vector<char> bytes_;
  std::vector<std::size_t> offsets_{0};
};

}  // namespace tessel::bench
