#include "pmem/pool_log.hpp"

#include <algorithm>
#include <cstring>
#include <span>

namespace tessel::pmem {

namespace {

result<pool_log_scan> scan_area(std::span<const std::byte> area, std::uint64_t at_seq,
                                const std::function<result<void>(const oplog::record_view&)>& apply) {
  pool_log_scan scan;
  scan.next_seq = at_seq + 1;
  std::uint64_t at = 0;
  while (at + oplog::record_min_bytes <= area.size()) {
    auto d = oplog::decode_record(area.subspan(at));
    if (!d || d->record.seq != scan.next_seq) {
      // An all-zero head is space never written since the pool was created; a record of an earlier round
      // (seq <= at_seq) is where this round ends. Anything else is a torn or damaged record.
      if (d) {
        if (d->record.seq > scan.next_seq) {
          scan.torn = "seq " + std::to_string(d->record.seq) + " where " + std::to_string(scan.next_seq) + " was due";
        }
        break;
      }
      const auto head = area.subspan(at, oplog::record_head_bytes);
      bool zero = true;
      for (const std::byte b : head) zero = zero && b == std::byte{0};
      if (zero) break;
      // Damage, even with valid records after it, is a torn tail: records appended at durability none are
      // flushed by nobody, and a power loss keeps whichever of their cache lines were evicted -- a later
      // record whole, an earlier one in part. (A record a sync made durable is damaged only by the media,
      // which poisons the line rather than changing it.) The file log cuts the same way (log_reader.hpp).
      scan.torn = "record seq " + std::to_string(scan.next_seq) + " at area offset " + std::to_string(at) + ": " +
                  std::string(d.error().message());
      break;
    }
    if (apply) {
      if (auto ok = apply(d->record); !ok) return tl::unexpected(std::move(ok.error()));
    }
    ++scan.replayed;
    ++scan.next_seq;
    at += (d->size + 7) & ~std::size_t{7};
  }
  scan.end_offset = at;
  return scan;
}

}  // namespace

pool_log::pool_log(pool_region& region) noexcept
    : region_(region),
      area_(region.base() + region.root().log_offset),
      area_offset_(region.root().log_offset),
      capacity_(region.root().log_bytes) {}

result<pool_log_scan> pool_log::recover(std::uint64_t at_seq,
                                        const std::function<result<void>(const oplog::record_view&)>& apply) {
  auto scan = scan_area({area_, capacity_}, at_seq, apply);
  if (!scan) return scan;
  write_offset_ = synced_offset_ = scan->end_offset;
  next_seq_ = scan->next_seq;
  return scan;
}

std::uint64_t pool_log::append(oplog::op_kind kind, key_view key, value_view value) noexcept {
  const std::size_t size = oplog::encoded_size(key.size(), value.size());
  std::byte* const at = area_ + write_offset_;
  oplog::encode_record({at, size}, next_seq_, kind, key, value);
  // Zero the alignment padding, so the area's bytes are a function of the records alone.
  const std::size_t padded = footprint(key.size(), value.size());
  for (std::size_t i = size; i < padded; ++i) at[i] = std::byte{0};
  write_offset_ += padded;
  // An end mark: a zero head after the last record, persisted with it, so recovery tells where this round
  // ends from bytes an earlier, longer round left behind (which would read as a torn record).
  if (write_offset_ + oplog::record_head_bytes <= capacity_) {
    std::memset(area_ + write_offset_, 0, oplog::record_head_bytes);
  }
  return next_seq_++;
}

result<void> pool_log::sync() noexcept {
  if (synced_offset_ == write_offset_) return {};
  const std::uint64_t end = std::min(write_offset_ + oplog::record_head_bytes, capacity_);  // the end mark too
  const pool_range r{area_offset_ + synced_offset_, end - synced_offset_};
  if (auto ok = region_.persist({&r, 1}); !ok) return ok;
  synced_offset_ = write_offset_;
  return {};
}

result<pool_log_scan> scan_pool_log(const pool_region& region, std::uint64_t at_seq) noexcept {
  try {
    const pool_root& r = region.root();
    return scan_area({region.base() + r.log_offset, r.log_bytes}, at_seq, {});
  } catch (...) {
    return make_error(errc::no_memory, "scanning the operation log area");
  }
}

}  // namespace tessel::pmem
