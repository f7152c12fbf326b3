#include "kv/commit_ring.hpp"

#include <algorithm>
#include <cstring>

#include "common/platform.hpp"

namespace tessel::detail {

namespace {

constexpr std::size_t record_alignment = 8;
/// The ring's first size: small stores keep a small history.
constexpr std::size_t initial_capacity = std::size_t{64} << 10;
/// How far ahead of the tail append requests lines for writing: a few commits' records.
constexpr std::size_t write_ahead = 512;

[[nodiscard]] constexpr std::size_t aligned(std::size_t n) noexcept {
  return (n + record_alignment - 1) & ~(record_alignment - 1);
}

}  // namespace

std::size_t commit_ring::record_size(std::span<const change> changes) noexcept {
  std::size_t bytes = sizeof(commit_header);
  for (const change& c : changes) bytes += sizeof(change_header) + c.key.size() + c.value.size();
  return aligned(bytes);
}

void commit_ring::append(std::uint64_t seq, std::span<const change> changes) {
  const std::size_t bytes = record_size(changes);
  if (bytes > max_bytes_ || bytes > UINT32_MAX) {
    clear(seq);  // it cannot be kept, so nothing before it can be resumed
    return;
  }
  std::byte* at = reserve(bytes);
  while (at == nullptr) {
    if (capacity_ < max_bytes_) {
      try {
        grow(std::min(max_bytes_, std::max({capacity_ * 2, initial_capacity, bytes})));
      } catch (...) {
        clear(seq);
        throw;
      }
    } else {
      drop_oldest();
    }
    at = reserve(bytes);
  }
  const commit_header h{seq, static_cast<std::uint32_t>(changes.size()), static_cast<std::uint32_t>(bytes)};
  std::memcpy(at, &h, sizeof h);
  std::byte* p = at + sizeof h;
  for (const change& c : changes) {
    change_header ch{};
    ch.version = c.version;
    ch.key_size = static_cast<std::uint32_t>(c.key.size());
    ch.value_size = static_cast<std::uint32_t>(c.value.size());
    ch.type = static_cast<std::uint8_t>(c.type);
    std::memcpy(p, &ch, sizeof ch);
    p += sizeof ch;
    if (!c.key.empty()) std::memcpy(p, c.key.data(), c.key.size());
    p += c.key.size();
    if (!c.value.empty()) std::memcpy(p, c.value.data(), c.value.size());
    p += c.value.size();
  }
  // The lines a few commits ahead were last written a whole history ago and have left the cache. A store
  // that misses waits in the store buffer, and the hub's unlock (a locked instruction) waits for the store
  // buffer to drain: requesting them before they are written keeps that miss off a later commit (kv set
  // p50 890 -> 830 ns at 1M keys). Two lines per commit stay ahead of a tail that advances by up to two
  // lines (a small change's record).
  if (capacity_ - tail_ > write_ahead + 2 * cache_line_size) {
    prefetch_for_write(buffer_.get() + tail_ + write_ahead);
    prefetch_for_write(buffer_.get() + tail_ + write_ahead + cache_line_size);
  }
  ++commits_;
  while (commits_ > max_commits_) drop_oldest();
}

void commit_ring::clear(std::uint64_t seq) noexcept {
  complete_after_ = seq;
  reset_positions();
}

void commit_ring::reset_positions() noexcept {
  head_ = tail_ = end_ = 0;
  wrapped_ = false;
  commits_ = 0;
}

std::byte* commit_ring::reserve(std::size_t bytes) noexcept {
  if (commits_ == 0) reset_positions();
  if (!wrapped_) {
    if (capacity_ - tail_ >= bytes) {
      std::byte* at = buffer_.get() + tail_;
      tail_ += bytes;
      return at;
    }
    if (commits_ != 0 && head_ >= bytes) {  // the end is too short: continue at the start
      end_ = tail_;
      wrapped_ = true;
      tail_ = bytes;
      return buffer_.get();
    }
    return nullptr;
  }
  if (head_ - tail_ >= bytes) {
    std::byte* at = buffer_.get() + tail_;
    tail_ += bytes;
    return at;
  }
  return nullptr;
}

void commit_ring::grow(std::size_t bytes) {
  auto bigger = std::make_unique<std::byte[]>(bytes);
  std::size_t live = 0;
  if (commits_ != 0) {
    const std::size_t first_end = wrapped_ ? end_ : tail_;
    std::memcpy(bigger.get(), buffer_.get() + head_, first_end - head_);
    live = first_end - head_;
    if (wrapped_) {
      std::memcpy(bigger.get() + live, buffer_.get(), tail_);
      live += tail_;
    }
  }
  buffer_ = std::move(bigger);
  capacity_ = bytes;
  head_ = 0;
  tail_ = live;
  end_ = 0;
  wrapped_ = false;
}

commit_ring::commit_header commit_ring::header_at(std::size_t offset) const noexcept {
  commit_header h{};
  std::memcpy(&h, buffer_.get() + offset, sizeof h);
  return h;
}

void commit_ring::drop_oldest() noexcept {
  if (commits_ == 0) return;
  const commit_header oldest = header_at(head_);
  complete_after_ = oldest.seq;
  head_ += oldest.bytes;
  --commits_;
  if (commits_ == 0) {
    reset_positions();
    return;
  }
  if (wrapped_ && head_ == end_) {
    head_ = 0;
    wrapped_ = false;
  }
  // The next oldest record was written a whole history ago and has left the cache; a steady stream of
  // commits drops one per commit, so requesting it now keeps that miss off the next one.
  prefetch(buffer_.get() + head_);
}

void commit_ring::for_each_record(function_ref<void(const commit_header& h, const std::byte* record)> visit) const {
  std::size_t offset = head_;
  bool second_part = false;
  for (std::size_t i = 0; i < commits_; ++i) {
    if (wrapped_ && !second_part && offset == end_) {
      offset = 0;
      second_part = true;
    }
    const commit_header h = header_at(offset);
    visit(h, buffer_.get() + offset);
    offset += h.bytes;
  }
}

bool commit_ring::decode_changes(std::span<const std::byte> body, std::uint32_t count, std::vector<change>& changes) {
  changes.clear();
  for (std::uint32_t c = 0; c < count; ++c) {
    change_header ch{};
    if (body.size() < sizeof ch) return false;
    std::memcpy(&ch, body.data(), sizeof ch);
    body = body.subspan(sizeof ch);
    if (ch.type > static_cast<std::uint8_t>(kv_event_type::deleted) || ch.key_size > body.size() ||
        ch.value_size > body.size() - ch.key_size) {
      return false;
    }
    const auto* text = static_cast<const char*>(static_cast<const void*>(body.data()));
    changes.push_back({static_cast<kv_event_type>(ch.type), std::string_view(text, ch.key_size), ch.version,
                       std::string_view(text + ch.key_size, ch.value_size)});
    body = body.subspan(ch.key_size + ch.value_size);
  }
  return body.size() < record_alignment;  // only padding may follow the last change
}

void commit_ring::for_each_after(std::uint64_t after,
                                 function_ref<void(std::uint64_t seq, std::span<const change> changes)> visit) const {
  std::vector<change> changes;
  for_each_record([&](const commit_header& h, const std::byte* record) {
    if (h.seq <= after) return;
    (void)decode_changes({record + sizeof h, h.bytes - sizeof h}, h.changes, changes);  // append wrote them
    visit(h.seq, changes);
  });
}

std::uint64_t commit_ring::save(std::string& out, std::size_t max_bytes) const {
  std::size_t total = 0;
  for_each_record([&](const commit_header& h, const std::byte*) { total += h.bytes; });
  std::uint64_t complete_after = complete_after_;
  out.reserve(out.size() + std::min(total, max_bytes));
  for_each_record([&](const commit_header& h, const std::byte* record) {
    if (total > max_bytes) {  // the oldest records give way to the newest
      total -= h.bytes;
      complete_after = h.seq;
      return;
    }
    out.append(static_cast<const char*>(static_cast<const void*>(record)), h.bytes);
  });
  return complete_after;
}

bool commit_ring::restore(std::span<const std::byte> records, std::uint64_t up_to) {
  std::vector<change> changes;
  std::uint64_t last = complete_after_;
  while (!records.empty()) {
    commit_header h{};
    if (records.size() < sizeof h) return false;
    std::memcpy(&h, records.data(), sizeof h);
    if (h.bytes < sizeof h || h.bytes > records.size() || h.bytes % record_alignment != 0 || h.seq <= last ||
        h.seq > up_to) {
      return false;
    }
    if (!decode_changes(records.subspan(sizeof h, h.bytes - sizeof h), h.changes, changes)) return false;
    append(h.seq, changes);
    last = h.seq;
    records = records.subspan(h.bytes);
  }
  return true;
}

}  // namespace tessel::detail
