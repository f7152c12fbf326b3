#include "kv/saved_history.hpp"

#include <string>
#include <string_view>
#include <utility>

#include "tessel/limits.hpp"

#include "common/le_codec.hpp"
#include "kv/kv_impl.hpp"

namespace tessel::detail {

namespace {

/// docs/format.md §KV entries: u32 format, u32 zero, u64 generation, u64 complete_after, u64 last_seq,
/// then the history's records.
constexpr std::string_view history_key{"\xFF\xFFtessel/kv/history", 19};
constexpr std::uint32_t history_format = 1;
constexpr std::size_t header_bytes = 32;

}  // namespace

result<void> save_history(sharded_store& engine, const watch_hub& hub, std::uint64_t generation) noexcept {
  if (auto ok = engine.flush(); !ok) return ok;
  try {
    // The header's seqs are known once the records are in: they go in after them.
    std::string record(header_bytes, '\0');
    // A history past the largest value keeps its newest commits.
    const watch_hub::saved_span saved = hub.save(record, max_value_size - header_bytes);
    auto* header = static_cast<std::byte*>(static_cast<void*>(record.data()));
    store_le<std::uint32_t>(header, history_format);
    store_le<std::uint64_t>(header + 8, generation);
    store_le<std::uint64_t>(header + 16, saved.complete_after);
    store_le<std::uint64_t>(header + 24, saved.last_seq);
    return engine.put(as_bytes(history_key), as_bytes(record));
  } catch (...) {
    return make_error(errc::no_memory, "saving the kv watch history");
  }
}

result<void> load_history(sharded_store& engine, watch_hub& hub, std::uint64_t previous_generation,
                          bool read_only) noexcept {
  result<void> status;
  bool found = false;
  engine.read(as_bytes(history_key), [&](const result<value_view>& v) {
    if (!v) {
      if (v.error().code() != errc::not_found) status = tl::unexpected(v.error());
      return;
    }
    found = true;
    if (v->size() < header_bytes || load_le<std::uint32_t>(v->data()) != history_format ||
        load_le<std::uint64_t>(v->data() + 8) != previous_generation ||
        load_le<std::uint64_t>(v->data() + 24) >> generation_shift != previous_generation) {
      return;  // a format this build does not read, or saved before an opening that did not close cleanly
    }
    (void)hub.restore(load_le<std::uint64_t>(v->data() + 16), load_le<std::uint64_t>(v->data() + 24),
                      v->subspan(header_bytes));
  });
  if (!status) return status;
  if (found && !read_only) {
    if (auto erased = engine.erase(as_bytes(history_key)); !erased) return tl::unexpected(std::move(erased.error()));
  }
  return {};
}

}  // namespace tessel::detail
