// Helpers shared by the operation-log tests: a temporary directory per test, a fixed store id, and a
// record collector for scan_log.
//
// Thread safety: none needed; each test owns its directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/bytes.hpp"

#include "log/log_reader.hpp"
#include "log/record.hpp"
#include "log/segment.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel::oplog::testing {

/// A test's own directory (tests/support/temp_dir.hpp) with the log directory inside it.
class temp_dir : public tessel::test::temp_dir {
 public:
  /// The log directory inside it (not created: the writer creates it).
  [[nodiscard]] std::filesystem::path log() const { return path() / "log"; }
};

inline constexpr store_id test_store_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/// A record copied out of the scan's buffer.
struct owned_record {
  std::uint64_t seq = 0;
  op_kind kind = op_kind::put;
  std::string key;
  std::string value;
  friend bool operator==(const owned_record&, const owned_record&) = default;
};

/// Scans `dir` after `after_seq`, collecting the replayed records into `out`.
inline result<log_scan_report> scan_into(const std::filesystem::path& dir, std::vector<owned_record>& out,
                                         std::uint64_t after_seq = 0, const store_id& id = test_store_id) {
  return scan_log(dir, id, after_seq, [&out](const record_view& r) -> result<void> {
    out.push_back({r.seq, r.kind, to_string(r.key), to_string(r.value)});
    return {};
  });
}

/// The key and value of record `seq` in the tests' deterministic workloads: sizes vary, 0x00 included.
inline std::string key_for(std::uint64_t seq) { return "key-" + std::to_string(seq) + std::string(seq % 3, '\0'); }
inline std::string value_for(std::uint64_t seq) {
  return std::string(seq * 37 % 300, static_cast<char>('a' + seq % 26));
}

}  // namespace tessel::oplog::testing
