// Options for opening a store.
//
// Thread safety: a plain value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessel {

/// Where a store's tree lives.
enum class backend : std::uint8_t {
  dram,  ///< anonymous memory; nothing survives the process
};

struct options {
  // ---- Parameters that affect behaviour ----

  /// Where the tree lives. Default: dram.
  tessel::backend backend = backend::dram;

  // ---- Parameters that affect performance ----

  /// Virtual address space reserved up front for the region, in bytes. Memory is committed only as the
  /// tree grows; the reservation only caps growth, so it is set far above any expected size.
  /// 0 picks the default: 1 TiB (64 GiB in sanitizer builds, whose address-space layouts are tighter).
  std::size_t reserve_bytes = 0;

  /// Ask the kernel to back the region with transparent huge pages (fewer TLB misses on lookups).
  /// Ignored where the kernel refuses. Default: true.
  bool huge_pages = true;
};

}  // namespace tessel
