// key_set: see key_set.hpp.
#include "bench/support/key_set.hpp"

namespace tessel::bench {

void key_set::reserve(std::size_t keys, std::size_t bytes) {
  offsets_.reserve(keys + 1);
  bytes_.reserve(bytes);
}

void key_set::push_back(std::string_view key) {
  bytes_.insert(bytes_.end(), key.begin(), key.end());
  offsets_.push_back(bytes_.size());
}

void key_set::clear() noexcept {
  bytes_.clear();
  offsets_.assign(1, 0);
}

key_set key_set::gather(std::span<const std::uint32_t> indices) const {
  std::size_t bytes = 0;
  for (const std::uint32_t i : indices) bytes += (*this)[i].size();
  key_set out;
  out.reserve(indices.size(), bytes);
  for (const std::uint32_t i : indices) out.push_back((*this)[i]);
  return out;
}

key_set key_set::slice(std::size_t first, std::size_t last) const {
  key_set out;
  out.reserve(last - first, offsets_[last] - offsets_[first]);
  for (std::size_t i = first; i < last; ++i) out.push_back((*this)[i]);
  return out;
}

}  // namespace tessel::bench
