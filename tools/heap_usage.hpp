// How many bytes the process's malloc heap holds, for measuring what a std container costs: the growth of
// this figure over a load is the container's memory, allocator overhead included. glibc only (mallinfo2);
// tessel's own tree lives in its region, outside the heap, and reports itself.
//
// Thread safety: safe to call from any thread; the figure covers all threads' allocations.
#pragma once

#include <cstddef>

namespace tessel::tools {

/// Bytes in allocated heap chunks, mmapped large chunks included (chunk headers and padding count).
[[nodiscard]] std::size_t heap_in_use() noexcept;

}  // namespace tessel::tools
