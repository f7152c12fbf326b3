// heap_in_use: see heap_usage.hpp.
#include "tools/heap_usage.hpp"

#include <malloc.h>

namespace tessel::tools {

std::size_t heap_in_use() noexcept {
  // uordblks: in-use bytes of the arenas; hblkhd: chunks malloc served with mmap (big bucket arrays).
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

}  // namespace tessel::tools
