// Helpers for the durable-store tests: options for a store in a directory, a store's contents as a sorted
// list to compare with a std::map model, and raw access to a closed store's data file (read, patch, truncate,
// read a meta slot's generation) for corruption and torn-write tests.
//
// Thread safety: test code, one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessel/store.hpp"

#include "common/checksum.hpp"
#include "common/le_codec.hpp"
#include "mmap/store_file.hpp"
#include "mmap/store_format.hpp"
#include "store/store_impl.hpp"

namespace tessel::test {

using model = std::map<std::string, std::string>;
using pairs = std::vector<std::pair<std::string, std::string>>;

/// Options for a durable (mmap) store at durability `d`; `power_loss` maps the file privately.
inline options durable_options(durability d, bool power_loss = false) {
  options o;
  o.backend = backend::mmap;
  o.durability = d;
  o.simulate_power_loss = power_loss;
  return o;
}

/// Opens `dir` with `o`, failing the test (and returning null) on error.
inline std::unique_ptr<store> must_open(const std::string& dir, const options& o) {
  auto s = store::open(dir, o);
  if (!s) {
    ADD_FAILURE() << "store::open(" << dir << "): " << s.error().to_string();
    return nullptr;
  }
  return std::move(*s);
}

/// Drops `s` as a crash would: no commit, no clean close.
inline void crash(std::unique_ptr<store> s) { detail::store_access::abandon(std::move(s)); }

/// Every entry of `s` in cursor order, copied.
inline pairs scan_all(const store& s) {
  pairs out;
  cursor c = s.new_cursor();
  for (c.seek_to_first(); c.valid(); c.next()) out.emplace_back(to_string(c.key()), to_string(c.value()));
  return out;
}

inline pairs as_pairs(const model& m) { return {m.begin(), m.end()}; }

/// The store holds exactly `m`: every key reads back its value, and a full scan yields `m` in order.
inline void expect_contents(const store& s, const model& m) {
  EXPECT_EQ(s.len(), m.size());
  std::size_t wrong = 0;
  for (const auto& [k, v] : m) {
    auto got = s.get_string(k);
    if (!got || *got != v) {
      if (++wrong <= 5) {
        ADD_FAILURE() << "key " << k << ": " << (got ? "value " + *got : got.error().to_string()) << ", want " << v;
      }
    }
  }
  EXPECT_EQ(wrong, 0U);
  EXPECT_TRUE(scan_all(s) == as_pairs(m)) << "a full scan differs from the model";
}

/// The data file of the store in `dir`.
inline std::filesystem::path data_file(const std::string& dir) {
  return std::filesystem::path(dir) / mmap::store_file::data_file_name;
}

inline std::vector<std::byte> read_bytes(const std::filesystem::path& p, std::uint64_t offset, std::size_t size) {
  std::vector<std::byte> out(size);
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << p;
  if (fd < 0) return {};
  const ssize_t n = ::pread(fd, out.data(), size, static_cast<off_t>(offset));
  ::close(fd);
  EXPECT_EQ(n, static_cast<ssize_t>(size)) << "reading " << size << " bytes at " << offset << " of " << p;
  return out;
}

inline std::vector<std::byte> read_whole(const std::filesystem::path& p) {
  return read_bytes(p, 0, std::filesystem::file_size(p));
}

/// Writes `bytes` at `offset` of `p` with pwrite, as a damaging disk or a torn write would.
inline void write_bytes(const std::filesystem::path& p, std::uint64_t offset, const std::vector<std::byte>& bytes) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << p;
  const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  ::close(fd);
  ASSERT_EQ(n, static_cast<ssize_t>(bytes.size())) << "writing at " << offset << " of " << p;
}

/// Inverts every bit of the byte at `offset`.
inline void flip_byte(const std::filesystem::path& p, std::uint64_t offset) {
  std::vector<std::byte> b = read_bytes(p, offset, 1);
  ASSERT_EQ(b.size(), 1U);
  b[0] = ~b[0];
  write_bytes(p, offset, b);
}

inline void truncate_file(const std::filesystem::path& p, std::uint64_t size) {
  ASSERT_EQ(::truncate(p.c_str(), static_cast<off_t>(size)), 0) << p;
}

/// The generation in meta slot `slot` of the closed store file `p`, read raw (u64 at byte 8 of the page).
inline std::uint64_t meta_generation(const std::filesystem::path& p, int slot) {
  const auto page = read_bytes(p, mmap::meta_offsets[static_cast<unsigned>(slot)], mmap::page_bytes);
  return page.size() == mmap::page_bytes ? load_le<std::uint64_t>(page.data() + 8) : 0;
}

/// The meta slot holding the newest commit (the larger generation).
inline int newest_slot(const std::filesystem::path& p) { return meta_generation(p, 1) > meta_generation(p, 0) ? 1 : 0; }

/// The frontier recorded in meta slot `slot` (u64 at byte 56).
inline std::uint64_t meta_frontier(const std::filesystem::path& p, int slot) {
  const auto page = read_bytes(p, mmap::meta_offsets[static_cast<unsigned>(slot)], mmap::page_bytes);
  return page.size() == mmap::page_bytes ? load_le<std::uint64_t>(page.data() + 56) : 0;
}

/// A checksum of the whole file, to show it did not change.
inline std::uint64_t file_hash(const std::filesystem::path& p) { return checksum64(read_whole(p)); }

}  // namespace tessel::test
