// tessel::kv_store: versioned keys, compare-and-set, atomic multi-key transactions and watch streams over a
// sharded store (univrs-state's semantics, ../shared/seeds/003; docs/kv.md is the design).
//
// Every entry carries a version (1 at its first write, +1 per write; 0 means missing) and its creation and
// last-update times. Every committed change gets a seq, one per commit (a transaction's changes share
// it): seqs rise by one per commit in the order watchers see them, so "everything after seq N" is exact.
// Keys are hierarchical paths by default (kv_options::keys; docs/kv.md §Path keys); the byte-key core API
// stays available through engine().
//
// Thread safety: every member but close() may be called from any thread at any time. Writes to one key
// are ordered; a write acknowledged to one thread is seen by a read another thread starts afterwards. A
// watch_stream belongs to one consumer thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tessel/error.hpp"
#include "tessel/options.hpp"
#include "tessel/sharded_store.hpp"

namespace tessel {

namespace detail {
struct kv_impl;
struct watcher;
}  // namespace detail

/// Which keys a kv_store accepts.
enum class key_rules : std::uint8_t {
  paths = 0,  ///< hierarchical paths: docs/kv.md §Path keys (a leading '/', no empty, "." or ".." segment, no NUL)
  bytes = 1,  ///< any non-empty byte string up to max_kv_key_size outside tessel's reserved prefix
};

/// Longest kv key, in bytes.
inline constexpr std::size_t max_kv_key_size = 4096;
/// Longest path segment, in bytes (key_rules::paths).
inline constexpr std::size_t max_kv_segment_size = 255;

struct kv_options {
  key_rules keys = key_rules::paths;
  /// Commits the store keeps in memory so a watch can resume from an earlier seq (docs/kv.md §Watch). A
  /// durable store saves them at a clean close and the next opening takes them back.
  std::size_t history_commits = 65536;
  /// ... in at most this many bytes of memory: their keys and values, 16 bytes per commit and 24 per change.
  std::size_t history_bytes = 64 << 20;
  /// Threads that run the *_async calls.
  std::uint32_t async_threads = 2;
};

/// An entry as read.
struct kv_entry {
  std::string value;
  std::uint64_t version = 0;
  std::uint64_t created_at_ns = 0;  ///< Unix time of its version 1
  std::uint64_t updated_at_ns = 0;  ///< Unix time of its latest version
  /// The store's seq when it was read: every change to this key up to it is in this entry, none after it,
  /// so watch({.from_seq = seq}) continues exactly from here.
  std::uint64_t seq = 0;
};

/// One operation of a transaction.
struct kv_op {
  enum class kind : std::uint8_t { check_version, check_exists, check_missing, set, erase };
  kind what = kind::set;
  std::string key;
  std::uint64_t version = 0;  ///< check_version: the version the key must have (0: missing)
  std::string value;          ///< set

  static kv_op check_version(std::string key, std::uint64_t version) {
    return {kind::check_version, std::move(key), version, {}};
  }
  static kv_op check_exists(std::string key) { return {kind::check_exists, std::move(key), 0, {}}; }
  static kv_op check_missing(std::string key) { return {kind::check_missing, std::move(key), 0, {}}; }
  static kv_op set(std::string key, std::string value) { return {kind::set, std::move(key), 0, std::move(value)}; }
  static kv_op erase(std::string key) { return {kind::erase, std::move(key), 0, {}}; }
};

/// What a committed transaction did.
struct kv_txn_result {
  std::uint64_t seq = 0;  ///< the commit's seq; 0 when it wrote nothing (only checks, or deletes of missing keys)
  /// Per op, in order: a set's new version, an erase's removed version (0: the key was missing), 0 for checks.
  std::vector<std::uint64_t> versions;
};

enum class kv_event_type : std::uint8_t {
  created = 0,  ///< the key did not exist before (version 1)
  updated = 1,
  deleted = 2,  ///< version is the version removed
  lagged = 3,   ///< the watcher fell behind and events were dropped: resume with watch(.from_seq = seq)
};

struct kv_event {
  kv_event_type type = kv_event_type::created;
  std::string key;
  std::uint64_t version = 0;
  std::optional<std::string> value;  ///< created / updated, when the watch asked for values
  std::uint64_t seq = 0;             ///< the commit's seq (lagged: the last seq delivered whole)
};

struct watch_options {
  /// Replay every matching change after this seq first (from the retained history), then go live.
  /// Errors: compacted, naming the oldest seq still retained (docs/kv.md §Watch).
  std::optional<std::uint64_t> from_seq;
  bool values = true;           ///< carry values in created/updated events
  std::size_t capacity = 8192;  ///< events buffered for a slow consumer before it lags
  /// How long next() polls for an event before sleeping. An event that comes within it is taken in well
  /// under a microsecond; one that finds the consumer asleep pays the operating system's wake-up (tens of
  /// microseconds). A consumer with a core to itself can poll for longer (docs/kv.md §Watch).
  std::chrono::nanoseconds spin = std::chrono::microseconds(50);
};

/// A subscription's events, pulled by one consumer. Destroying or close() unsubscribes.
class watch_stream {
 public:
  watch_stream(const watch_stream&) = delete;
  watch_stream& operator=(const watch_stream&) = delete;
  ~watch_stream();

  /// The next event, waiting for one. After a lagged event, or once closed, errc::aborted.
  [[nodiscard]] result<kv_event> next() noexcept;
  /// As next(), waiting at most `timeout`: std::nullopt when none came.
  [[nodiscard]] result<std::optional<kv_event>> next_for(std::chrono::nanoseconds timeout) noexcept;
  /// Unsubscribes; a consumer waiting in next() wakes with aborted. Any thread.
  void close() noexcept;

 private:
  friend class kv_store;
  explicit watch_stream(std::shared_ptr<detail::watcher> w) noexcept : watcher_(std::move(w)) {}
  std::shared_ptr<detail::watcher> watcher_;
};

/// A watch whose events are handed to a callback on a thread of the subscription's own. A slow callback
/// makes the watch lag as a slow stream consumer would: it receives the lagged event, then the
/// subscription ends. Destroying or close() unsubscribes and waits for a callback in progress.
class watch_subscription {
 public:
  watch_subscription(const watch_subscription&) = delete;
  watch_subscription& operator=(const watch_subscription&) = delete;
  ~watch_subscription();
  /// Stops: no callback runs after this returns. Not from inside the callback.
  void close() noexcept;

 private:
  friend class kv_store;
  watch_subscription(std::unique_ptr<watch_stream> stream, std::function<void(const kv_event&)> on_event);
  std::unique_ptr<watch_stream> stream_;
  std::thread thread_;
};

class kv_store {
 public:
  /// A new in-memory kv store over `shards`. Errors: as sharded_store::open.
  [[nodiscard]] static result<std::unique_ptr<kv_store>> open(const options& opts, const shard_options& shards,
                                                              const kv_options& kv = {}) noexcept;
  /// Opens or creates the durable sharded store in directory `path` as a kv store. Errors: as
  /// sharded_store::open; corruption (the kv meta record does not parse); version_mismatch (a newer kv
  /// format); invalid_argument (entries but no kv meta record: a store written through the byte API).
  [[nodiscard]] static result<std::unique_ptr<kv_store>> open(const std::string& path, const options& opts,
                                                              const shard_options& shards,
                                                              const kv_options& kv = {}) noexcept;
  kv_store(const kv_store&) = delete;
  kv_store& operator=(const kv_store&) = delete;
  /// Closes the store (close() ignoring its error); open watch streams end with aborted.
  ~kv_store();

  // ---- Reads ----

  /// Errors: not_found; invalid_key as invalid_argument; corruption (a value without a kv header: written
  /// through engine()).
  [[nodiscard]] result<kv_entry> get(std::string_view key) const noexcept;
  /// The value into `value` (its memory reused), the rest of the entry as the result.
  [[nodiscard]] result<kv_entry> get(std::string_view key, std::string& value) const noexcept;
  [[nodiscard]] result<bool> exists(std::string_view key) const noexcept;
  /// The key's version; 0 when missing.
  [[nodiscard]] result<std::uint64_t> version(std::string_view key) const noexcept;
  /// Keys starting with `prefix`, in order, from one consistent cut of the shards. `limit` 0: all.
  [[nodiscard]] result<std::vector<std::string>> list(std::string_view prefix, std::size_t limit = 0) const noexcept;
  /// Entries (key, entry) starting with `prefix`, in order, from one cut; `visit` returns false to stop.
  /// Returns the seq taken just before the cut: watch({.from_seq = it}) misses no change after the cut
  /// (one that raced the cut may come again). Each entry's seq is the same.
  [[nodiscard]] result<std::uint64_t> scan(
      std::string_view prefix, const std::function<bool(std::string_view, const kv_entry&)>& visit) const noexcept;
  /// The seq of the latest commit.
  [[nodiscard]] std::uint64_t current_seq() const noexcept;

  // ---- Writes (durable as the store's options say when they return) ----

  /// Creates or updates; the new version.
  [[nodiscard]] result<std::uint64_t> set(std::string_view key, std::string_view value) noexcept;
  /// Removes; the removed version, 0 when the key was missing (nothing written then).
  [[nodiscard]] result<std::uint64_t> erase(std::string_view key) noexcept;
  /// Writes only if the key's version is `expected` (0: only if missing); the new version. Errors:
  /// conflict carrying a version_conflict (error::conflict()).
  [[nodiscard]] result<std::uint64_t> compare_and_set(std::string_view key, std::uint64_t expected,
                                                      std::string_view value) noexcept;
  /// Creates with version 1 if missing: true; false (nothing written) if the key exists.
  [[nodiscard]] result<bool> create_if_not_exists(std::string_view key, std::string_view value) noexcept;
  /// All or nothing, atomic and durable across shards. Checks see the state before the transaction,
  /// wherever they stand in `ops`; writes apply in order. Errors: conflict naming the first failing check
  /// (a version_conflict with its op_index); invalid_argument (a bad key, or no op).
  [[nodiscard]] result<kv_txn_result> transaction(const std::vector<kv_op>& ops) noexcept;

  // ---- Watch ----

  /// Subscribes to changes of keys matching `pattern`: an exact key, `prefix/*` (every key under
  /// `prefix/`, at any depth, never `prefixabc`), or `*` (everything). Per-key order is kept; events come
  /// in seq order. Errors: invalid_argument (pattern; a from_seq after current_seq()); compacted
  /// (from_seq no longer retained, naming the oldest seq that can be resumed from).
  [[nodiscard]] result<std::unique_ptr<watch_stream>> watch(std::string_view pattern,
                                                            const watch_options& opts = {}) noexcept;

  /// As watch(), with every event handed to `on_event` on a thread of the subscription's own.
  [[nodiscard]] result<std::unique_ptr<watch_subscription>> watch(
      std::string_view pattern, const watch_options& opts, std::function<void(const kv_event&)> on_event) noexcept;

  // ---- Async facade: the same calls run on the store's async threads ----

  [[nodiscard]] std::future<result<kv_entry>> get_async(std::string key) noexcept;
  [[nodiscard]] std::future<result<std::uint64_t>> set_async(std::string key, std::string value) noexcept;
  [[nodiscard]] std::future<result<std::uint64_t>> erase_async(std::string key) noexcept;
  [[nodiscard]] std::future<result<std::uint64_t>> compare_and_set_async(std::string key, std::uint64_t expected,
                                                                         std::string value) noexcept;
  [[nodiscard]] std::future<result<kv_txn_result>> transaction_async(std::vector<kv_op> ops) noexcept;
  /// Runs `done` on an async thread with the outcome of set(key, value).
  void set_async(std::string key, std::string value, std::function<void(result<std::uint64_t>)> done) noexcept;

  // ---- The store underneath ----

  /// The sharded store holding the entries, for the byte-key core API. Values written there bypass
  /// versions and watches (and read back through kv as corruption unless they carry a kv header).
  [[nodiscard]] sharded_store& engine() noexcept;
  [[nodiscard]] result<void> flush() noexcept;
  [[nodiscard]] result<void> checkpoint() noexcept;
  /// Runs the async calls still queued, ends every watch stream, saves the watch history (a writable
  /// durable store: docs/kv.md §Watch, "Across a restart"), then closes the sharded store. Later calls
  /// fail with not_supported. No other call may be in flight (as for the destructor).
  [[nodiscard]] result<void> close() noexcept;

 private:
  explicit kv_store(std::unique_ptr<detail::kv_impl> impl) noexcept;
  std::unique_ptr<detail::kv_impl> impl_;
};

}  // namespace tessel
