// recover_store: what `tessel recover` does. It examines a durable store (check_store), sorts what it finds
// into what opening the store repairs -- a damaged newest meta slot (fall back to the previous commit), a
// torn operation log tail (cut), garbage an unclean shutdown left (reclaimed; leaked pool objects freed),
// log records after the last commit (replayed) -- and damage no repair can undo (a damaged block of the
// tree in use). With `apply`, and only when nothing unrepairable was found, it opens the store for writing
// with every checksum verified, which performs those repairs, closes it cleanly (a commit that rewrites the
// meta), and checks it again. Without `apply` it writes nothing.
//
// Thread safety: takes the store's locks like any opener; a store open elsewhere is `busy`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tessel/error.hpp"

#include "store/store_check.hpp"

namespace tessel {

struct recover_report {
  std::string backend;                  ///< "mmap" or "pmem"
  check_report before;                  ///< what check found first
  std::vector<std::string> repairable;  ///< what opening the store repairs
  std::vector<std::string> damage;      ///< what no repair undoes; apply refuses while there is any
  bool applied = false;
  std::vector<std::string> actions;   ///< with apply: what was done
  std::optional<check_report> after;  ///< with apply: check of the repaired store
};

/// Errors: those of check_store (not_found, busy, ...); with `apply`, those of opening and closing the store.
[[nodiscard]] result<recover_report> recover_store(const std::filesystem::path& dir, bool apply,
                                                   const check_progress& progress = {}) noexcept;

}  // namespace tessel
