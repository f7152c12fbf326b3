// The internals of a kv store (include/tessel/kv_store.hpp), shared by its files: kv_store.cpp (open,
// reads, single-key writes), kv_transaction.cpp, kv_async.cpp, watch_stream.cpp.
//
// Thread safety: as kv_store.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "tessel/kv_store.hpp"
#include "tessel/sharded_store.hpp"

#include "kv/task_pool.hpp"
#include "kv/watch_hub.hpp"

namespace tessel::detail {

/// Seqs are generation << 40 | commits of this opening, so a seq from an earlier opening is never mistaken
/// for one of this opening's commits (docs/kv.md §Seqs).
inline constexpr unsigned generation_shift = 40;

struct kv_impl {
  std::unique_ptr<sharded_store> engine;
  kv_options opts;
  shard_mode mode = shard_mode::inline_calls;
  std::unique_ptr<watch_hub> hub;
  std::uint64_t generation = 0;  ///< this opening's (docs/kv.md §Seqs)
  bool saves_history = false;    ///< writable and durable: close() saves the watch history (kv/saved_history.hpp)
  std::atomic<bool> closed{false};
  // Last: its threads run calls on everything above, so it stops first.
  std::unique_ptr<task_pool> tasks;
};

/// not_supported once the store is closed.
[[nodiscard]] inline result<void> check_open(const kv_impl& impl) noexcept {
  if (impl.closed.load(std::memory_order_acquire)) return make_error(errc::not_supported, "the kv store is closed");
  return {};
}

/// The buffer a thread's writes build their ops in: its vector and strings are reused, so a steady stream
/// of writes allocates nothing for them.
[[nodiscard]] inline std::vector<write_op>& scratch_writes() noexcept {
  thread_local std::vector<write_op> ops;
  return ops;
}

/// The watchers this thread's commit must wake once its shards are released (watch_hub::publish).
[[nodiscard]] inline std::vector<std::shared_ptr<watcher>>& pending_wakes() noexcept {
  thread_local std::vector<std::shared_ptr<watcher>> to_wake;
  return to_wake;
}

/// The entry as transactions see it: missing (version 0) or present.
struct key_state {
  std::uint64_t version = 0;
  std::uint64_t created_at_ns = 0;
};

/// What `reader` holds for `key`. Errors: corruption (not a kv entry); those of the read.
[[nodiscard]] result<key_state> read_state(const batch_reader& reader, std::string_view key) noexcept;

}  // namespace tessel::detail
