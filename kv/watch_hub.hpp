// The watch machinery of a kv store (docs/kv.md §Watch): seqs, the retained history of recent commits,
// and the subscribers with their bounded buffers.
//
// A commit's changes are published while the writer still holds the shards it wrote (sharded_store::
// transact's `applied`), and publish() assigns the seq under the hub's mutex: so seqs rise by one per
// commit in exactly the order subscribers receive them, and two commits to one key -- serialised by its
// shard's lock -- reach every subscriber in their order. A subscriber that cannot take a commit's events
// into its buffer is marked lagged and gets nothing more: the writer never waits for a reader.
//
// Thread safety: publish, subscribe and close_all from any thread; a watcher's consumer side (next) from
// one thread at a time, close from any.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tessel/error.hpp"
#include "tessel/function_ref.hpp"
#include "tessel/kv_store.hpp"

#include "kv/commit_ring.hpp"
#include "kv/path_keys.hpp"

namespace tessel::detail {

/// A subscription: what it matches and the events buffered for its consumer.
struct watcher {
  watcher(watch_pattern p, const watch_options& o)
      : pattern(std::move(p)), values(o.values), capacity(std::max<std::size_t>(o.capacity, 1)), spin(o.spin) {}

  /// The next event, waiting up to `timeout` (nullopt: forever). Errors: aborted once closed by its
  /// consumer, or ended (its store closed) or lagged and drained.
  [[nodiscard]] result<std::optional<kv_event>> next(std::optional<std::chrono::nanoseconds> timeout) noexcept;
  /// No more events come. `drain`: what is buffered is still taken (the store closed under the consumer);
  /// otherwise next() answers aborted at once (the consumer closed it, and wants nothing more).
  void close(bool drain) noexcept;

  const watch_pattern pattern;
  const bool values;
  const std::size_t capacity;
  const std::chrono::nanoseconds spin;  // how long next() polls before it sleeps

  std::mutex mutex;
  std::condition_variable ready;
  std::deque<kv_event> events;         // guarded by mutex
  std::atomic<std::size_t> queued{0};  // events.size(), read without the lock by a spinning consumer
  std::uint64_t delivered_seq = 0;     // the last commit taken whole (the seq a lagged event carries)
  bool lagged = false;                 // events were dropped: a lagged event follows the buffered ones
  bool lag_reported = false;
  std::atomic<bool> closed{false};  // no more events come
  bool stopped = false;             // closed by its consumer: buffered events are dropped too
  bool sleeping = false;            // the consumer waits on `ready`: a producer must notify
};

class watch_hub {
 public:
  /// `first_seq`: the seq before this hub's first commit (docs/kv.md §Seqs: generation << 40).
  watch_hub(std::uint64_t first_seq, std::size_t history_commits, std::size_t history_bytes) noexcept
      : current_(first_seq), history_commits_(history_commits), history_(history_commits, history_bytes, first_seq) {}

  [[nodiscard]] std::uint64_t current_seq() const noexcept { return current_.load(std::memory_order_acquire); }
  /// Assigns the commit its seq, keeps it in the history and hands its events to matching watchers.
  /// Returns the seq. Called holding the shards the commit wrote. `build` fills in the commit's changes,
  /// views that must last until publish returns; it runs under the hub's mutex, and only when a history
  /// is kept or someone watches -- deciding that under the same mutex subscribe() takes, so a watch that
  /// subscribes while a commit is on its way either sees it or started after it, never misses it. The
  /// watchers whose consumers sleep are added to `to_wake`, for wake() once the shards are released -- a
  /// futex wake-up costs microseconds, which no writer should spend holding a lock.
  std::uint64_t publish(function_ref<void(std::vector<change>&)> build,
                        std::vector<std::shared_ptr<watcher>>& to_wake) noexcept;
  /// Wakes the consumers publish() named, and empties `to_wake`.
  static void wake(std::vector<std::shared_ptr<watcher>>& to_wake) noexcept;
  /// A new subscriber, first given every matching change after `from_seq` from the history. Errors:
  /// invalid_argument (from_seq in the future), compacted.
  [[nodiscard]] result<std::shared_ptr<watcher>> subscribe(watch_pattern pattern, const watch_options& opts) noexcept;
  /// Ends every subscription (their consumers drain, then get aborted).
  void close_all() noexcept;

  /// The seqs that frame a saved history.
  struct saved_span {
    std::uint64_t complete_after = 0;  ///< every commit after it, up to last_seq, is in the records
    std::uint64_t last_seq = 0;        ///< the newest commit's seq when it was saved
  };
  /// Appends to `records` the newest commits of the history that fit in `max_bytes` (commit_ring::save).
  /// Throws std::bad_alloc.
  [[nodiscard]] saved_span save(std::string& records, std::size_t max_bytes) const;
  /// Before the first commit and subscription: takes a history an earlier opening saved, whose last
  /// commit was `last_seq`, so a watch can resume from any seq after `complete_after`. Records that do not
  /// parse (or seqs that do not frame them) leave the hub as it was and return false; a watch from an
  /// earlier seq is then compacted. The hub's seq becomes last_seq when that is later than its own (a
  /// read-only opening, which starts no new range of seqs).
  bool restore(std::uint64_t complete_after, std::uint64_t last_seq, std::span<const std::byte> records) noexcept;

 private:
  /// Marks `w` lagged (out of memory: its events cannot be built), naming it in `to_wake` if it sleeps.
  static void mark_lagged(const std::shared_ptr<watcher>& w, std::vector<std::shared_ptr<watcher>>& to_wake) noexcept;
  /// Buffers the matching changes of one commit for `w`, or marks it lagged; returns whether its consumer
  /// sleeps and must be woken. Holds mutex_. Throws std::bad_alloc having buffered none of the commit.
  static bool deliver(watcher& w, std::uint64_t seq, std::span<const change> changes, bool replay);

  std::atomic<std::uint64_t> current_;
  const std::size_t history_commits_;
  mutable std::mutex mutex_;
  commit_ring history_;          // guarded by mutex_
  std::vector<change> changes_;  // guarded by mutex_: the commit being published; its memory is reused
  std::vector<std::shared_ptr<watcher>> watchers_;
};

}  // namespace tessel::detail
