// Cross-shard batches of a sharded store (docs/concurrency.md §Cross-shard commits): write_batch, and the
// recovery that re-applies the parts shards lack after a crash. The record format and the marker are in
// store/cross_shard_batch.hpp.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "tessel/limits.hpp"

#include "common/le_codec.hpp"
#include "log/log_reader.hpp"
#include "log/segment.hpp"
#include "store/cross_shard_batch.hpp"
#include "store/sharded_impl.hpp"

namespace tessel::detail {

namespace {

/// The batch id shard `s` applied last (its marker key), 0 when none.
std::uint64_t applied_batch(const store& s) noexcept {
  auto v = s.get(as_bytes(batch_marker_key));
  if (!v || v->size() != sizeof(std::uint64_t)) return 0;
  return load_le<std::uint64_t>(v->data());
}

/// Applies one shard's part of batch `id`, then its marker (when `id` is not 0: durable stores).
result<void> apply_part(store& s, const batch_part& part, std::uint64_t id) noexcept {
  for (const batch_op& op : part.ops) {
    if (op.erase) {
      if (auto ok = s.erase(as_bytes(op.key), durability::none); !ok) return tl::unexpected(std::move(ok.error()));
    } else if (auto ok = s.put(as_bytes(op.key), as_bytes(op.value), durability::none); !ok) {
      return ok;
    }
  }
  if (id == 0) return {};
  std::array<std::byte, sizeof(std::uint64_t)> marker{};
  store_le<std::uint64_t>(marker.data(), id);
  return s.put(as_bytes(batch_marker_key), marker, durability::none);
}

}  // namespace

result<void> recover_batches(sharded_impl& impl, const std::filesystem::path& dir, const shard_manifest& m,
                             const options& opts) noexcept {
  if (opts.read_only) return {};
  try {
    const std::filesystem::path log_dir = dir / "txn";
    std::uint64_t newest_marker = 0;
    std::vector<std::uint64_t> markers;
    for (const auto& s : impl.shards) {
      markers.push_back(applied_batch(*s));
      newest_marker = std::max(newest_marker, markers.back());
    }
    // Checkpoints delete the segments whose batches every shard holds: the log starts where they stopped.
    auto segments = oplog::list_segments(log_dir);
    if (!segments) return tl::unexpected(std::move(segments.error()));
    const std::uint64_t after = segments->empty() ? 0 : segments->front().first_seq - 1;
    auto report = oplog::scan_log(log_dir, m.id, after, [&](const oplog::record_view& r) -> result<void> {
      auto parts = decode_batch(as_string_view(r.value));
      if (!parts) return tl::unexpected(std::move(parts.error()));
      for (const batch_part& part : *parts) {
        if (part.shard >= impl.shards.size()) {
          return make_error(errc::corruption, "a cross-shard batch names shard " + std::to_string(part.shard));
        }
        if (markers[part.shard] >= r.seq) continue;  // the shard holds this part already
        if (auto ok = apply_part(*impl.shards[part.shard], part, r.seq); !ok) return ok;
        markers[part.shard] = r.seq;
      }
      return {};
    });
    if (!report) {
      return make_error(report.error().code(),
                        "recovering cross-shard batches: " + std::string(report.error().message()));
    }
    if (report->damage) {
      if (auto ok = oplog::cut_tail(*report->damage); !ok) return ok;
    }
    oplog::log_options lo;
    lo.segment_bytes = std::min<std::uint64_t>(opts.log_segment_bytes, 4 << 20);
    lo.simulate_power_loss = opts.simulate_power_loss;
    auto writer = oplog::log_writer::open(log_dir, m.id, std::max(report->next_seq, newest_marker + 1), lo);
    if (!writer) return tl::unexpected(std::move(writer.error()));
    impl.coordinator = std::move(*writer);
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "recovering cross-shard batches");
  }
}

}  // namespace tessel::detail

namespace tessel {

result<void> sharded_store::write_batch(const std::vector<write_op>& ops) noexcept {
  detail::sharded_impl& impl = *impl_;
  if (impl.mode == shard_mode::workers) {
    return make_error(errc::not_supported, "cross-shard batches need inline mode (workers own their shards)");
  }
  try {
    std::vector<detail::batch_part> parts;
    std::vector<std::int64_t> part_of(shards(), -1);
    for (const write_op& op : ops) {
      if (op.key.size() > max_key_size || op.value.size() > max_value_size) {
        return make_error(errc::invalid_argument, "a batch write of a " + std::to_string(op.key.size()) +
                                                      "-byte key and " + std::to_string(op.value.size()) +
                                                      "-byte value exceeds the limits");
      }
      if (std::string_view(op.key).starts_with(detail::batch_reserved_prefix)) {
        return make_error(errc::invalid_argument, "keys under \\xFF\\xFFtessel/txn/ are tessel's");
      }
      const std::uint32_t home = shard_of(as_bytes(op.key));
      if (part_of[home] < 0) {
        part_of[home] = static_cast<std::int64_t>(parts.size());
        parts.push_back({home, {}});
      }
      parts[static_cast<std::size_t>(part_of[home])].ops.push_back({op.erase, op.key, op.value});
    }
    if (parts.empty()) return {};
    // Every involved shard's lock, in shard order: no other write, and no cut, sees part of the batch.
    std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.shard < b.shard; });
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(parts.size());
    for (const detail::batch_part& p : parts) locks.emplace_back(impl.locks[p.shard]);
    std::uint64_t id = 0;
    if (impl.coordinator) {
      {
        std::lock_guard lock(impl.failed_mutex);
        if (impl.failed) {
          return make_error(errc::fatal,
                            "an earlier batch failed (" + impl.failed->to_string() + "); reopen the store");
        }
      }
      // The commit point: the batch's record, synced. Before it the batch never happened.
      const std::string record = detail::encode_batch(parts);
      if (auto ok = impl.coordinator->reserve(oplog::encoded_size(0, record.size())); !ok) return ok;
      id = impl.coordinator->append(oplog::op_kind::put, {}, as_bytes(record));
      if (auto ok = impl.coordinator->sync_through(id); !ok) {
        std::lock_guard lock(impl.failed_mutex);
        impl.failed = ok.error();  // the record may be durable: only recovery knows
        return make_error(errc::fatal, "syncing a cross-shard batch: " + ok.error().to_string());
      }
    }
    for (const detail::batch_part& p : parts) {
      if (auto ok = detail::apply_part(*impl.shards[p.shard], p, id); !ok) {
        std::lock_guard lock(impl.failed_mutex);
        impl.failed = ok.error();
        return make_error(errc::fatal,
                          "applying a committed cross-shard batch (reopen to finish it): " + ok.error().to_string());
      }
    }
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "a cross-shard batch");
  }
}

}  // namespace tessel
