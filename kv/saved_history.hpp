// A durable kv store's watch history across a clean close (docs/kv.md §Watch, "Across a restart"): close()
// writes the hub's history into the store as one record, and the next opening takes it back (a writable
// one then erases it), so a watch can resume from a seq of the earlier opening.
//
// Why a record in the store and not a file beside it: it is written, checkpointed and checksummed by the
// store's own commit protocol, and the store's lock and tools cover it. Why only at a clean close: the
// record is valid only for the opening right after the one that wrote it (its generation says which). An
// opening that crashes saves none and had erased the one it took -- or, if that erase was lost with it,
// leaves a record of an older generation, which the next opening ignores -- so a watch from a seq whose
// commits were never saved is `compacted`, never a silent gap.
//
// Thread safety: as the kv store's open and close.
#pragma once

#include <cstdint>

#include "tessel/error.hpp"
#include "tessel/sharded_store.hpp"

#include "kv/watch_hub.hpp"

namespace tessel::detail {

/// Writes `hub`'s history, as of now, under the history key (docs/format.md §KV entries), with
/// `generation`, the opening that closes. Makes every shard durable first, so the record never names a
/// commit the shards could lose. Errors: the store's.
[[nodiscard]] result<void> save_history(sharded_store& engine, const watch_hub& hub, std::uint64_t generation) noexcept;

/// Gives `hub` the history the previous opening, `previous_generation`, saved at its clean close, if
/// there is one, and (unless `read_only`) erases the record, which no later opening could use. A record of
/// another generation, or one that does not parse, is dropped without a word: a watch from an earlier
/// seq is then `compacted`. Errors: those of reading the record.
[[nodiscard]] result<void> load_history(sharded_store& engine, watch_hub& hub, std::uint64_t previous_generation,
                                        bool read_only) noexcept;

}  // namespace tessel::detail
