// merged_cursor (include/tessel/sharded_store.hpp): the shards' cursors merged by a k-way min-heap. Each
// key lives in exactly one shard, so the merge yields every key once, in order.
#include <algorithm>
#include <cstring>
#include <utility>

#include "tessel/sharded_store.hpp"

namespace tessel {

namespace {

/// Orders shards by their cursors' keys for a min-heap (std heaps are max-heaps: "greater" first).
struct key_after {
  const std::vector<cursor>* cursors;
  bool operator()(std::uint32_t a, std::uint32_t b) const noexcept {
    const key_view x = (*cursors)[a].key();
    const key_view y = (*cursors)[b].key();
    const int c = std::memcmp(x.data(), y.data(), std::min(x.size(), y.size()));
    return c != 0 ? c > 0 : x.size() > y.size();
  }
};

}  // namespace

// ---- merged_cursor ----

merged_cursor::merged_cursor(std::vector<cursor> cursors) noexcept : cursors_(std::move(cursors)) {}

void merged_cursor::rebuild() noexcept {
  heap_.clear();
  try {
    heap_.reserve(cursors_.size());  // once: later rebuilds and next() never allocate
  } catch (...) {
    return;  // out of memory: the cursor is invalid
  }
  for (std::uint32_t i = 0; i < cursors_.size(); ++i) {
    if (cursors_[i].valid()) heap_.push_back(i);
  }
  std::make_heap(heap_.begin(), heap_.end(), key_after{&cursors_});
}

void merged_cursor::seek_to_first() noexcept {
  for (cursor& c : cursors_) c.seek_to_first();
  rebuild();
}

void merged_cursor::seek(key_view key) noexcept {
  for (cursor& c : cursors_) c.seek(key);
  rebuild();
}

void merged_cursor::seek_in_prefix(key_view prefix) noexcept {
  for (cursor& c : cursors_) c.seek_in_prefix(prefix);
  rebuild();
}

void merged_cursor::next() noexcept {
  const key_after after{&cursors_};
  std::pop_heap(heap_.begin(), heap_.end(), after);
  cursor& c = cursors_[heap_.back()];
  c.next();
  if (c.valid()) {
    std::push_heap(heap_.begin(), heap_.end(), after);
  } else {
    heap_.pop_back();
  }
}

}  // namespace tessel
