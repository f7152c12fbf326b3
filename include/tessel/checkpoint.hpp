// Checkpoint files: a snapshot exported to one self-describing, checksummed file that carries the
// snapshot's at_seq, and imported into a store -- to move a store between machines or backends, or to
// keep versions outside it. The layout is in docs/format.md §Checkpoint file.
//
// Streaming both ways with bounded memory (frames of about 1 MiB; one frame holds the largest entry).
// Export writes a new file and, unless told otherwise, syncs it before returning. Import checks the whole file first
// (every frame's checksum, key order, counts, the trailer) and only then writes, so a damaged file changes nothing.
//
// Thread safety: export reads a snapshot, so it may run on any thread while the store takes writes; import
// writes its store, so it needs the writer's exclusion (any thread for a durable store).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "tessel/error.hpp"
#include "tessel/snapshot.hpp"
#include "tessel/store.hpp"

namespace tessel {

/// What a checkpoint file holds.
struct checkpoint_info {
  std::uint64_t at_seq = 0;  ///< the snapshot's at_seq: every write with seq <= at_seq is in it
  std::uint64_t keys = 0;
  std::uint64_t data_bytes = 0;  ///< bytes of keys and values
  std::uint64_t file_bytes = 0;
  std::uint64_t created_unix_ns = 0;
};

/// Called now and then with the entries and file bytes done so far.
using checkpoint_progress = std::function<void(std::uint64_t entries, std::uint64_t bytes)>;

struct export_options {
  /// fdatasync the file before returning, so the checkpoint survives a crash. Off: the file may still be
  /// only in the page cache (for a pipe, a scratch copy, or a caller that syncs itself).
  bool sync = true;
  checkpoint_progress progress;
};

/// Writes every entry of `snap` to a new file `path` (it must not exist). Errors: invalid_argument (an
/// empty snapshot handle; `path` exists), io_error, no_space; a failed export removes what it wrote.
[[nodiscard]] result<checkpoint_info> export_checkpoint(const snapshot& snap, const std::string& path,
                                                        const export_options& options = {}) noexcept;

/// The header and trailer of the checkpoint file `path`, checked, without reading its entries. Errors:
/// not_found, corruption (not a checkpoint file, damaged header or trailer, truncated),
/// version_mismatch, io_error.
[[nodiscard]] result<checkpoint_info> read_checkpoint_info(const std::string& path) noexcept;

/// Fills `into`, which must be empty, with every entry of the checkpoint file `path`, then makes them durable
/// (a checkpoint of a durable store). Each frame is checked before its entries go in; an import that fails
/// leaves `into` empty again. A store in memory or an mmap store is built bottom-up and, durable, committed
/// once at the end with no log record per entry: a crash during the import leaves it empty. A pmem store
/// takes a put per entry. Errors: invalid_argument (`into` is not empty), corruption (any damage),
/// version_mismatch, not_found, io_error, no_space, no_memory (when a pmem `into` cannot even record that
/// it is empty again, it holds part of the file -- discard it).
[[nodiscard]] result<checkpoint_info> import_checkpoint(const std::string& path, store& into,
                                                        const checkpoint_progress& progress = {}) noexcept;

}  // namespace tessel
