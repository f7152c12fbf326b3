// PMEM_IS_PMEM_FORCE=1 for tests of pmem stores: libpmem then treats every mapping as persistent memory and
// makes data durable with CPU cache flushes (what a DAX host does) instead of msync, which is ~100x slower on
// a regular file. libpmem reads the variable once, at the first pmem_is_pmem call of the process, so this
// must run before the first pool opens; an explicit setting in the environment wins (overwrite 0), which is
// how a suite runs the msync path instead.
//
// Thread safety: call before starting threads (setenv).
#pragma once

#include <cstdlib>

namespace tessel::test {

inline void force_pmem_flush() { ::setenv("PMEM_IS_PMEM_FORCE", "1", /*overwrite=*/0); }

}  // namespace tessel::test
