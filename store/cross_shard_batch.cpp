#include "store/cross_shard_batch.hpp"

#include "common/le_codec.hpp"
#include "log/segment.hpp"

namespace tessel::detail {

result<std::uint64_t> coordinator_scan_start(const std::filesystem::path& log_dir) noexcept {
  auto segments = oplog::list_segments(log_dir);
  if (!segments) return tl::unexpected(std::move(segments.error()));
  return segments->empty() ? 0 : segments->front().first_seq - 1;
}

std::string encode_batch(const std::vector<batch_part>& parts) {
  std::string out;
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(parts.size()));
  for (const batch_part& p : parts) {
    append_le<std::uint32_t>(out, p.shard);
    encode_ops(p.ops, out);
  }
  return out;
}

result<std::vector<batch_part>> decode_batch(std::string_view encoded) noexcept {
  try {
    field_reader in(encoded);
    std::vector<batch_part> parts;
    const auto count = in.le<std::uint32_t>();
    for (std::uint32_t i = 0; i < count && !in.bad(); ++i) {
      batch_part p;
      p.shard = in.le<std::uint32_t>();
      if (!read_ops(in, p.ops)) break;
      parts.push_back(std::move(p));
    }
    if (!in.done()) return make_error(errc::corruption, "a cross-shard batch record does not parse");
    return parts;
  } catch (...) {
    return make_error(errc::no_memory, "decoding a cross-shard batch");
  }
}

}  // namespace tessel::detail
