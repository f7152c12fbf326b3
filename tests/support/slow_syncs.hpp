// Whether fdatasync does real work where a test's files live. Group-commit tests count how many syncs
// concurrent writers shared; on tmpfs a sync returns at once, writers seldom overlap one, and the count
// says nothing about the code. Those tests skip there.
//
// Thread safety: a pure query.
#pragma once

#include <string>

#include <sys/vfs.h>

namespace tessel::test {

/// False when `path` is on tmpfs (or ramfs), whose fdatasync writes nothing.
inline bool syncs_reach_a_disk(const std::string& path) {
  constexpr long tmpfs_magic = 0x01021994;
  constexpr long ramfs_magic = 0x858458f6;
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return true;
  return fs.f_type != tmpfs_magic && fs.f_type != ramfs_magic;
}

}  // namespace tessel::test
