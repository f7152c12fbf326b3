// Recovery: scan_log's clean end, torn tail and corruption rules, header checks, and cut_tail followed by a
// new writer. Torn tails come from the writer's power-loss simulation (abandon) and from cutting files by
// hand.
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/checksum.hpp"
#include "common/le_codec.hpp"
#include "log/log_reader.hpp"
#include "log/log_writer.hpp"
#include "tests/log/log_test_support.hpp"

namespace tessel::oplog {
namespace {

using testing::key_for;
using testing::owned_record;
using testing::scan_into;
using testing::temp_dir;
using testing::test_store_id;
using testing::value_for;

std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

void write_bytes(const std::filesystem::path& p, const std::vector<std::byte>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::byte> encode(std::uint64_t seq) {
  const std::string k = key_for(seq);
  const std::string v = value_for(seq);
  std::vector<std::byte> buf(encoded_size(k.size(), v.size()));
  encode_record(buf, seq, op_kind::put, as_bytes(k), as_bytes(v));
  return buf;
}

log_options sim_options(std::uint64_t segment_bytes = 8192) {
  log_options o;
  o.segment_bytes = segment_bytes;
  o.simulate_power_loss = true;
  return o;
}

std::unique_ptr<log_writer> open_writer(const std::filesystem::path& dir, std::uint64_t next_seq,
                                        const log_options& opts) {
  auto w = log_writer::open(dir, test_store_id, next_seq, opts);
  EXPECT_TRUE(w) << w.error().to_string();
  return w ? std::move(*w) : nullptr;
}

void append_next(log_writer& w) {
  const std::uint64_t seq = w.last_seq() + 1;
  const std::string k = key_for(seq);
  const std::string v = value_for(seq);
  ASSERT_TRUE(w.reserve(encoded_size(k.size(), v.size())));
  ASSERT_EQ(w.append(op_kind::put, as_bytes(k), as_bytes(v)), seq);
}

void expect_records(const std::vector<owned_record>& got, std::uint64_t first, std::uint64_t last) {
  ASSERT_EQ(got.size(), last + 1 - first);
  for (std::uint64_t seq = first; seq <= last; ++seq) {
    EXPECT_EQ(got[seq - first], (owned_record{seq, op_kind::put, key_for(seq), value_for(seq)}));
  }
}

// After damage (or none): cut it, check a rescan is clean with the same records, then continue with a new
// writer and check the log holds 1..expected_last + 5.
void cut_and_continue(const std::filesystem::path& dir, const log_scan_report& report, std::uint64_t expected_last) {
  if (report.damage) {
    ASSERT_TRUE(cut_tail(*report.damage));
    std::vector<owned_record> again;
    auto clean = scan_into(dir, again);
    ASSERT_TRUE(clean) << clean.error().to_string();
    EXPECT_FALSE(clean->damage);
    EXPECT_EQ(clean->next_seq, report.next_seq);
    expect_records(again, 1, expected_last);
  }
  ASSERT_EQ(report.next_seq, expected_last + 1);
  auto w = open_writer(dir, report.next_seq, sim_options());
  ASSERT_TRUE(w);
  for (int i = 0; i < 5; ++i) append_next(*w);
  ASSERT_TRUE(w->sync_through(w->last_seq()));
  w.reset();
  std::vector<owned_record> all;
  auto final_report = scan_into(dir, all);
  ASSERT_TRUE(final_report) << final_report.error().to_string();
  EXPECT_FALSE(final_report->damage);
  expect_records(all, 1, expected_last + 5);
}

TEST(LogRecovery, MissingDirectoryIsAnEmptyLog) {
  temp_dir tmp;
  std::vector<owned_record> got;
  auto report = scan_into(tmp.path() / "nowhere", got, 41);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->segments, 0U);
  EXPECT_EQ(report->records, 0U);
  EXPECT_EQ(report->next_seq, 42U);
  EXPECT_FALSE(report->damage);
}

TEST(LogRecovery, AbandonedWriterLeavesExactlyTheSyncedRecords) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 1, sim_options(1U << 20));  // one segment: no rollover syncs
  for (int i = 0; i < 30; ++i) append_next(*w);
  ASSERT_TRUE(w->sync_through(20));  // a leader takes everything: 1..30 are durable
  for (int i = 0; i < 30; ++i) append_next(*w);
  ASSERT_TRUE(w->write_buffered());  // handed to the "OS", never synced
  for (int i = 0; i < 5; ++i) append_next(*w);
  w->abandon(0);
  w.reset();
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_FALSE(report->damage);
  expect_records(got, 1, 30);
}

// The heart of recovery: cut the unsynced bytes at every kind of place, across a rollover, and check that
// exactly the whole records before the cut come back, damage is reported when and only when the cut left a
// nonzero partial record, and the log continues cleanly after cut_tail.
TEST(LogRecovery, TornTailAtRandomCutsReplaysExactlyTheWholeRecords) {
  std::mt19937_64 rng(20240611);
  for (int trial = 0; trial < 60; ++trial) {
    SCOPED_TRACE(trial);
    temp_dir tmp;
    auto w = open_writer(tmp.log(), 1, sim_options(4096));
    const int synced = static_cast<int>(rng() % 40);
    for (int i = 0; i < synced; ++i) append_next(*w);
    if (synced > 0) {
      ASSERT_TRUE(w->sync_through(w->last_seq()));
    }
    const int more = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < more; ++i) {
      append_next(*w);
      // write_buffered across a rollover syncs the segment left behind, which durable_seq reflects.
      if (rng() % 8 == 0) {
        ASSERT_TRUE(w->write_buffered());
      }
    }
    std::vector<std::vector<std::byte>> records;  // the unsynced ones, in order
    std::size_t total = 0;
    for (std::uint64_t seq = w->durable_seq() + 1; seq <= w->last_seq(); ++seq) {
      records.push_back(encode(seq));
      total += records.back().size();
    }
    const std::uint64_t durable = w->durable_seq();
    const std::size_t keep = rng() % (total + 1);
    w->abandon(keep);
    w.reset();

    // Which records survive whole, and whether the partial one has a nonzero byte on disk.
    std::uint64_t last = durable;
    bool partial_nonzero = false;
    std::size_t at = 0;
    for (const auto& r : records) {
      if (at + r.size() <= keep) {
        ++last;
      } else if (at < keep) {
        for (std::size_t i = 0; i < keep - at; ++i) partial_nonzero = partial_nonzero || r[i] != std::byte{0};
      }
      at += r.size();
    }
    std::vector<owned_record> got;
    auto report = scan_into(tmp.log(), got);
    ASSERT_TRUE(report) << report.error().to_string();
    expect_records(got, 1, last);
    EXPECT_EQ(report->damage.has_value(), partial_nonzero) << "keep " << keep << " of " << total;
    if (report->damage) {
      EXPECT_GT(report->damage->bytes_after, 0U);
      EXPECT_LT(report->damage->offset, std::filesystem::file_size(report->damage->segment));
    }
    cut_and_continue(tmp.log(), *report, last);
  }
}

// Lost pages or a short file, made by hand on a synced log: zero the tail from a random offset, or
// truncate the file there.
TEST(LogRecovery, TornTailFromZeroedOrTruncatedFileTail) {
  temp_dir source;
  std::vector<std::size_t> ends;  // file offset after each record of the single segment
  {
    auto w = open_writer(source.log(), 1, sim_options(1U << 20));
    std::size_t end = segment_header_bytes;
    for (int i = 0; i < 40; ++i) {
      append_next(*w);
      end += encode(w->last_seq()).size();
      ends.push_back(end);
    }
    ASSERT_TRUE(w->sync_through(40));
  }
  const auto name = segment_file_name(1);
  const auto original = read_bytes(source.log() / name);
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 80; ++trial) {
    SCOPED_TRACE(trial);
    const bool truncate = trial % 2 == 1;
    // Cut on a record boundary one time in four, anywhere in the data otherwise.
    std::size_t cut = 0;
    if (trial % 4 == 0) {
      cut = ends[rng() % ends.size()];
    } else {
      cut = segment_header_bytes + rng() % (ends.back() - segment_header_bytes);
    }
    temp_dir tmp;
    std::filesystem::create_directory(tmp.log());
    auto bytes = original;
    if (truncate) {
      bytes.resize(cut);
    } else {
      // Zero from the cut to the end of the page it falls in, as a lost page would.
      const std::size_t page_end = std::min(ends.back(), (cut / 4096 + 1) * 4096);
      std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(cut), bytes.begin() + static_cast<std::ptrdiff_t>(page_end),
                std::byte{0});
    }
    write_bytes(tmp.log() / name, bytes);
    std::uint64_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    const bool on_boundary = cut == segment_header_bytes || (whole > 0 && ends[whole - 1] == cut);
    std::vector<owned_record> got;
    auto report = scan_into(tmp.log(), got);
    ASSERT_TRUE(report) << report.error().to_string();
    // Zeroing a whole page may leave later records intact after the zeros: they are past the damage and
    // never replayed.
    expect_records(got, 1, whole);
    const bool zeroed_to_the_end = !truncate && (cut / 4096 + 1) * 4096 >= ends.back();
    EXPECT_EQ(report->damage.has_value(), !(on_boundary && (truncate || zeroed_to_the_end))) << "cut " << cut;
    cut_and_continue(tmp.log(), *report, whole);
  }
}

TEST(LogRecovery, FlippedByteInTheLastRecordIsATornTail) {
  temp_dir tmp;
  std::size_t last_offset = 0;
  {
    auto w = open_writer(tmp.log(), 1, sim_options(1U << 20));
    std::size_t end = segment_header_bytes;
    for (int i = 0; i < 10; ++i) {
      append_next(*w);
      last_offset = end;
      end += encode(w->last_seq()).size();
    }
    ASSERT_TRUE(w->sync_through(10));
  }
  const auto seg = tmp.log() / segment_file_name(1);
  auto bytes = read_bytes(seg);
  bytes[last_offset + 30] ^= std::byte{0x10};
  write_bytes(seg, bytes);
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report) << report.error().to_string();
  expect_records(got, 1, 9);
  ASSERT_TRUE(report->damage);
  EXPECT_EQ(report->damage->segment, seg);
  EXPECT_EQ(report->damage->offset, last_offset);
  EXPECT_EQ(report->damage->bytes_after, encode(10).size());
  EXPECT_NE(report->damage->reason.find("checksum"), std::string::npos);
  EXPECT_EQ(report->next_seq, 10U);
  cut_and_continue(tmp.log(), *report, 9);
}

TEST(LogRecovery, FlippedByteInAnEarlierSegmentIsCorruption) {
  temp_dir tmp;
  {
    auto w = open_writer(tmp.log(), 1, sim_options(4096));
    for (int i = 0; i < 100; ++i) append_next(*w);
    ASSERT_TRUE(w->sync_through(100));
  }
  std::vector<owned_record> got;
  auto clean = scan_into(tmp.log(), got);
  ASSERT_TRUE(clean);
  ASSERT_GE(clean->files.size(), 3U);
  const auto& victim = clean->files[1];
  auto bytes = read_bytes(victim.path);
  const std::size_t offset = segment_header_bytes + 5;  // inside the segment's first record
  bytes[offset] ^= std::byte{0x01};
  write_bytes(victim.path, bytes);
  got.clear();
  auto report = scan_into(tmp.log(), got);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code(), errc::corruption);
  const std::string msg(report.error().message());
  EXPECT_NE(msg.find(victim.path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset " + std::to_string(segment_header_bytes)), std::string::npos) << msg;
}

/// A writer of 4096-byte segments whose records 1..5 are synced.
std::unique_ptr<log_writer> writer_with_five_synced(const std::filesystem::path& dir) {
  auto w = open_writer(dir, 1, sim_options(4096));
  for (int i = 0; i < 5; ++i) append_next(*w);
  EXPECT_TRUE(w->sync_through(5));
  return w;
}

/// The scan of a log whose segment 1 holds records 1..5, then a torn tail, then `later` empty segments.
void expect_torn_after_five(const result<log_scan_report>& report, const std::vector<owned_record>& got,
                            std::size_t later) {
  ASSERT_TRUE(report) << report.error().to_string();
  expect_records(got, 1, 5);
  ASSERT_TRUE(report->damage);
  EXPECT_EQ(report->damage->segment.filename(), segment_file_name(1));
  ASSERT_EQ(report->damage->later_segments.size(), later);
  EXPECT_EQ(report->segments, later + 1);
}

// A rollover created the next segment, then the crash tore the previous one's tail: the damage is followed
// only by an empty segment, so it is a torn tail, and cut_tail deletes the empty segment.
TEST(LogRecovery, DamageFollowedOnlyByEmptySegmentsIsATornTail) {
  temp_dir tmp;
  auto w = writer_with_five_synced(tmp.log());
  while (w->segment_count() == 1) append_next(*w);
  // The last record went into the new segment; keep half of the first unsynced record only.
  w->abandon(encode(6).size() / 2);
  w.reset();
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  expect_torn_after_five(report, got, 1);
  if (::testing::Test::HasFatalFailure()) return;
  const auto later = report->damage->later_segments[0];
  cut_and_continue(tmp.log(), *report, 5);
  EXPECT_FALSE(std::filesystem::exists(later));
}

// Durability none: records still buffered when rollovers created the next segments. A kill loses the
// buffer, leaving empty segments whose names skip the lost seqs. That is a torn tail (the log ends after
// the written records), not a gap: a store at durability none used to fail to open after such a kill.
TEST(LogRecovery, RecordsLostFromTheBufferAcrossRolloversAreATornTail) {
  temp_dir tmp;
  auto w = writer_with_five_synced(tmp.log());
  while (w->segment_count() < 3) append_next(*w);  // two rollovers, nothing written
  w->abandon(0);
  w.reset();
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  expect_torn_after_five(report, got, 2);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_NE(report->damage->reason.find("never written"), std::string::npos) << report->damage->reason;
  std::uintmax_t on_disk = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.log())) on_disk += e.file_size();
  EXPECT_EQ(report->file_bytes, on_disk);
  const auto later = report->damage->later_segments;
  cut_and_continue(tmp.log(), *report, 5);
  for (const auto& path : later) EXPECT_FALSE(std::filesystem::exists(path)) << path;
}

// The same gap before a segment that holds records cannot come from a crash of this writer: corruption.
TEST(LogRecovery, AGapBeforeASegmentWithRecordsIsCorruption) {
  temp_dir tmp;
  {
    auto w = writer_with_five_synced(tmp.log());
    while (w->segment_count() < 2) append_next(*w);
    w->abandon(0);
  }
  // A later segment with records, as a copy from elsewhere would put there.
  auto w = open_writer(tmp.log(), 100, sim_options(4096));
  append_next(*w);
  ASSERT_TRUE(w->sync_through(100));
  w.reset();
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code(), errc::corruption);
  EXPECT_NE(report.error().message().find("previous segment ends at 5"), std::string_view::npos)
      << report.error().to_string();
}

// The writer fdatasyncs a segment before writing into the next, so a power loss can never leave the next
// one with records while the previous one is torn.
TEST(LogRecovery, ASegmentIsDurableBeforeItsSuccessorGetsAByte) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 1, sim_options(4096));
  while (w->segment_count() < 3) append_next(*w);
  ASSERT_TRUE(w->write_buffered());  // crosses two rollovers without sync_through
  EXPECT_GE(w->sync_count(), 2U);
  w->abandon(0);
  w.reset();
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_FALSE(report->damage);
  ASSERT_EQ(report->files.size(), 3U);
  // Both full segments are on disk; the third lost its unsynced records.
  EXPECT_EQ(report->last_seq, report->files[2].first_seq - 1);
}

TEST(LogRecovery, SegmentsMustFollowOnUnlessTheGapIsCheckpointed) {
  temp_dir tmp;
  {
    auto w = open_writer(tmp.log(), 1, sim_options());
    for (int i = 0; i < 10; ++i) append_next(*w);
    ASSERT_TRUE(w->sync_through(10));
  }
  {
    // A checkpoint at 20 whose log records 11..20 were never made durable (durability "none").
    auto w = open_writer(tmp.log(), 21, sim_options());
    for (int i = 0; i < 10; ++i) append_next(*w);
    ASSERT_TRUE(w->sync_through(30));
  }
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got, 20);
  ASSERT_TRUE(report) << report.error().to_string();
  ASSERT_EQ(got.size(), 10U);
  EXPECT_EQ(got.front().seq, 21U);
  got.clear();
  auto gap = scan_into(tmp.log(), got, 15);
  ASSERT_FALSE(gap);
  EXPECT_EQ(gap.error().code(), errc::corruption);
  EXPECT_NE(gap.error().message().find(segment_file_name(21)), std::string_view::npos);
}

TEST(LogRecovery, HandlerErrorsStopTheScan) {
  temp_dir tmp;
  {
    auto w = open_writer(tmp.log(), 1, sim_options());
    for (int i = 0; i < 10; ++i) append_next(*w);
    ASSERT_TRUE(w->sync_through(10));
  }
  int calls = 0;
  auto report = scan_log(tmp.log(), test_store_id, 0, [&calls](const record_view& r) -> result<void> {
    ++calls;
    if (r.seq == 4) return make_error(errc::no_memory, "replaying");
    return {};
  });
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code(), errc::no_memory);
  EXPECT_EQ(calls, 4);
}

// Header checks, on a copy of one good segment.
class LogHeader : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = open_writer(tmp_.log(), 1, sim_options());
    append_next(*w);
    ASSERT_TRUE(w->sync_through(1));
    path_ = tmp_.log() / segment_file_name(1);
    bytes_ = read_bytes(path_);
  }
  // Writes the header back with a correct checksum (or not).
  void write(bool reseal) {
    if (reseal) {
      store_le<std::uint64_t>(bytes_.data() + 56, checksum64(std::span<const std::byte>(bytes_).first(56)));
    }
    write_bytes(path_, bytes_);
  }
  error scan_error(const store_id& id = test_store_id) {
    std::vector<owned_record> got;
    auto r = scan_into(tmp_.log(), got, 0, id);
    EXPECT_FALSE(r);
    return r ? error() : r.error();
  }
  temp_dir tmp_;
  std::filesystem::path path_;
  std::vector<std::byte> bytes_;
};

TEST_F(LogHeader, LayoutIsAsDocumented) {
  ASSERT_GE(bytes_.size(), segment_header_bytes);
  EXPECT_EQ(std::memcmp(bytes_.data(), "TSLOG\0\r\n", 8), 0);
  EXPECT_EQ(load_le<std::uint32_t>(bytes_.data() + 8), 2U);
  EXPECT_EQ(load_le<std::uint32_t>(bytes_.data() + 12), 64U);
  EXPECT_EQ(std::memcmp(bytes_.data() + 16, test_store_id.data(), 16), 0);
  EXPECT_EQ(load_le<std::uint64_t>(bytes_.data() + 32), 1U);
  for (std::size_t i = 40; i < 56; ++i) EXPECT_EQ(bytes_[i], std::byte{0});
  EXPECT_EQ(load_le<std::uint64_t>(bytes_.data() + 56), checksum64(std::span<const std::byte>(bytes_).first(56)));
}

TEST_F(LogHeader, AnotherStoresIdIsCorruption) {
  store_id other = test_store_id;
  other[15] ^= 1;
  const error e = scan_error(other);
  EXPECT_EQ(e.code(), errc::corruption);
  EXPECT_NE(e.message().find("segment belongs to another store"), std::string_view::npos);
}

TEST_F(LogHeader, BadChecksumIsCorruption) {
  bytes_[40] = std::byte{1};
  write(false);
  const error e = scan_error();
  EXPECT_EQ(e.code(), errc::corruption);
  EXPECT_NE(e.message().find(path_.string()), std::string_view::npos);
  EXPECT_NE(e.message().find("checksum"), std::string_view::npos);
}

TEST_F(LogHeader, BadMagicIsCorruption) {
  bytes_[0] = std::byte{'X'};
  write(true);
  const error e = scan_error();
  EXPECT_EQ(e.code(), errc::corruption);
  EXPECT_NE(e.message().find("magic"), std::string_view::npos);
}

TEST_F(LogHeader, NewerVersionIsAVersionMismatch) {
  store_le<std::uint32_t>(bytes_.data() + 8, 3);
  write(true);
  EXPECT_EQ(scan_error().code(), errc::version_mismatch);
  write(false);  // whatever a newer format does with the checksum
  EXPECT_EQ(scan_error().code(), errc::version_mismatch);
}

TEST_F(LogHeader, VersionOneSegmentsOfOlderBuildsAreStillRead) {
  store_le<std::uint32_t>(bytes_.data() + 8, 1);
  write(true);
  std::vector<owned_record> got;
  auto r = scan_into(tmp_.log(), got, 0, test_store_id);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(got.size(), 1U);
}

TEST_F(LogHeader, VersionZeroIsCorruption) {
  store_le<std::uint32_t>(bytes_.data() + 8, 0);
  write(true);
  const error e = scan_error();
  EXPECT_EQ(e.code(), errc::corruption);
  EXPECT_NE(e.message().find("version 0 does not exist"), std::string_view::npos);
}

TEST_F(LogHeader, FirstSeqMustMatchTheName) {
  store_le<std::uint64_t>(bytes_.data() + 32, 2);
  write(true);
  EXPECT_EQ(scan_error().code(), errc::corruption);
}

TEST_F(LogHeader, ShortFileIsCorruption) {
  bytes_.resize(segment_header_bytes - 1);
  write(false);
  EXPECT_EQ(scan_error().code(), errc::corruption);
}

TEST(SegmentName, IsTwentyDigitsAndTheExtension) {
  EXPECT_EQ(segment_file_name(42), "00000000000000000042.tlog");
  EXPECT_EQ(segment_file_name(UINT64_MAX), "18446744073709551615.tlog");
  EXPECT_EQ(parse_segment_name("00000000000000000042.tlog"), 42U);
  EXPECT_EQ(parse_segment_name("18446744073709551615.tlog"), UINT64_MAX);
  EXPECT_FALSE(parse_segment_name("18446744073709551616.tlog"));  // past UINT64_MAX
  EXPECT_FALSE(parse_segment_name("0000000000000000042.tlog"));
  EXPECT_FALSE(parse_segment_name("00000000000000000042.tlog.tmp"));
  EXPECT_FALSE(parse_segment_name("0000000000000000004x.tlog"));
  EXPECT_FALSE(parse_segment_name("00000000000000000042.tlox"));
}

}  // namespace
}  // namespace tessel::oplog
