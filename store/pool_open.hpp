// Opening a pmem store: a directory holding `pool.tessel`, a libpmemobj pool (docs/format.md §Pool).
//
// Thread safety: as store::open.
#pragma once

#include <filesystem>
#include <memory>

#include "tessel/options.hpp"
#include "tessel/store.hpp"

namespace tessel::detail {

inline constexpr const char* pool_file_name = "pool.tessel";

/// True when `dir` holds a pmem store's pool file.
[[nodiscard]] bool pool_store_exists(const std::filesystem::path& dir) noexcept;

/// store::open for backend pmem: creates or opens the pool, audits it after an unclean close (freeing what
/// leaked), replays the log area, and -- when writable -- publishes that the pool is in use (clears the
/// clean-close flag) before returning. Errors: as store::open.
[[nodiscard]] result<std::unique_ptr<store>> open_pool_store(const std::filesystem::path& dir,
                                                             const options& opts) noexcept;

}  // namespace tessel::detail
