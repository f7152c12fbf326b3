// log_writer: round trips through scan_log across rollovers, reserve, drop_through, no_space and the
// poisoned state.
#include "log/log_writer.hpp"

#include <cerrno>
#include <csignal>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/log_reader.hpp"
#include "tests/log/log_test_support.hpp"

namespace tessel::oplog {
namespace {

using testing::key_for;
using testing::owned_record;
using testing::scan_into;
using testing::temp_dir;
using testing::test_store_id;
using testing::value_for;

log_options small_segments(std::uint64_t bytes = 8192) {
  log_options o;
  o.segment_bytes = bytes;
  return o;
}

std::unique_ptr<log_writer> open_writer(const std::filesystem::path& dir, std::uint64_t next_seq,
                                        const log_options& opts) {
  auto w = log_writer::open(dir, test_store_id, next_seq, opts);
  EXPECT_TRUE(w) << w.error().to_string();
  return w ? std::move(*w) : nullptr;
}

// Reserves and appends the deterministic record for the writer's next seq; returns the seq.
std::uint64_t append_next(log_writer& w) {
  const std::uint64_t seq = w.last_seq() + 1;
  const std::string k = key_for(seq);
  const std::string v = value_for(seq);
  auto r = w.reserve(encoded_size(k.size(), v.size()));
  EXPECT_TRUE(r) << r.error().to_string();
  const std::uint64_t got = w.append(op_kind::put, as_bytes(k), as_bytes(v));
  EXPECT_EQ(got, seq);
  return got;
}

void expect_records(const std::vector<owned_record>& got, std::uint64_t first, std::uint64_t last) {
  ASSERT_EQ(got.size(), last + 1 - first);
  for (std::uint64_t seq = first; seq <= last; ++seq) {
    const owned_record& r = got[seq - first];
    EXPECT_EQ(r.seq, seq);
    EXPECT_EQ(r.kind, op_kind::put);
    EXPECT_EQ(r.key, key_for(seq));
    EXPECT_EQ(r.value, value_for(seq));
  }
}

TEST(LogWriter, RoundTripsAcrossRollovers) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 1, small_segments());
  ASSERT_TRUE(w);
  for (int i = 0; i < 500; ++i) append_next(*w);
  ASSERT_TRUE(w->sync_through(w->last_seq()));
  EXPECT_EQ(w->durable_seq(), 500U);
  EXPECT_GT(w->segment_count(), 5U);
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report) << report.error().to_string();
  expect_records(got, 1, 500);
  EXPECT_EQ(report->segments, w->segment_count());
  EXPECT_EQ(report->first_seq, 1U);
  EXPECT_EQ(report->last_seq, 500U);
  EXPECT_EQ(report->next_seq, 501U);
  EXPECT_EQ(report->records, 500U);
  EXPECT_EQ(report->replayed, 500U);
  EXPECT_EQ(report->bytes, w->retained_bytes());
  EXPECT_FALSE(report->damage);
  // Each segment's records follow on from the previous segment's.
  std::uint64_t next = 1;
  for (const segment_summary& s : report->files) {
    EXPECT_EQ(s.first_seq, next);
    EXPECT_EQ(s.path.filename(), segment_file_name(s.first_seq));
    EXPECT_LE(s.record_bytes + segment_header_bytes, s.file_bytes);
    next += s.records;
  }
}

TEST(LogWriter, ReplaysOnlyAfterTheCheckpointAndContinuesAcrossWriters) {
  temp_dir tmp;
  {
    auto w = open_writer(tmp.log(), 1, small_segments());
    for (int i = 0; i < 100; ++i) append_next(*w);
    ASSERT_TRUE(w->sync_through(100));
  }
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got, 60);
  ASSERT_TRUE(report);
  expect_records(got, 61, 100);
  EXPECT_EQ(report->records, 100U);
  EXPECT_EQ(report->replayed, 40U);
  {
    auto w = open_writer(tmp.log(), report->next_seq, small_segments());
    EXPECT_EQ(w->last_seq(), 100U);
    EXPECT_EQ(w->durable_seq(), 100U);
    for (int i = 0; i < 50; ++i) append_next(*w);
    ASSERT_TRUE(w->sync_through(150));
  }
  got.clear();
  report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report) << report.error().to_string();
  expect_records(got, 1, 150);
}

TEST(LogWriter, SyncThroughWaitsOnlyForWhatItNames) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 10, small_segments());
  EXPECT_EQ(w->last_seq(), 9U);
  EXPECT_TRUE(w->sync_through(9));  // nothing to do
  EXPECT_EQ(w->sync_count(), 0U);
  append_next(*w);
  auto past = w->sync_through(11);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code(), errc::invalid_argument);
  ASSERT_TRUE(w->sync_through(10));
  EXPECT_EQ(w->sync_count(), 1U);
  ASSERT_TRUE(w->sync_through(10));
  EXPECT_EQ(w->sync_count(), 1U);  // already durable: no second fdatasync
}

TEST(LogWriter, WriteBufferedHandsRecordsToTheOsWithoutSyncing) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 1, small_segments(1U << 20));
  for (int i = 0; i < 10; ++i) append_next(*w);
  EXPECT_GT(w->buffered_bytes(), 0U);
  ASSERT_TRUE(w->write_buffered());
  EXPECT_EQ(w->buffered_bytes(), 0U);
  EXPECT_EQ(w->durable_seq(), 0U);
  EXPECT_EQ(w->sync_count(), 0U);
  std::vector<owned_record> got;
  ASSERT_TRUE(scan_into(tmp.log(), got));  // the OS has them, so a reader sees them
  expect_records(got, 1, 10);
  ASSERT_TRUE(w->sync_through(10));
  EXPECT_EQ(w->durable_seq(), 10U);
}

TEST(LogWriter, ReserveWritesTheBufferPastItsLimit) {
  temp_dir tmp;
  log_options o = small_segments(1U << 20);
  o.max_buffered_bytes = 4096;
  auto w = open_writer(tmp.log(), 1, o);
  for (int i = 0; i < 200; ++i) {
    append_next(*w);
    EXPECT_LE(w->buffered_bytes(), 4096U);
  }
}

TEST(LogWriter, ReserveRollsOverAndSizesSegmentsForOversizeRecords) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 1, small_segments(8192));
  EXPECT_EQ(w->segment_count(), 1U);
  const std::string big(20000, 'b');
  ASSERT_TRUE(w->reserve(encoded_size(1, big.size())));
  // The current segment was empty, so it grew to fit rather than being followed by one of its name.
  EXPECT_EQ(w->segment_count(), 1U);
  EXPECT_EQ(w->append(op_kind::put, as_bytes("k"), as_bytes(big)), 1U);
  ASSERT_TRUE(w->reserve(encoded_size(1, 1)));
  EXPECT_EQ(w->segment_count(), 1U);  // the big segment's page rounding left room for a small one
  EXPECT_EQ(w->append(op_kind::erase, as_bytes("k"), {}), 2U);
  ASSERT_TRUE(w->reserve(encoded_size(1, big.size())));
  EXPECT_EQ(w->segment_count(), 2U);
  EXPECT_EQ(w->append(op_kind::put, as_bytes("k"), as_bytes(big)), 3U);
  ASSERT_TRUE(w->reserve(encoded_size(0, 0)));
  EXPECT_EQ(w->append(op_kind::clear, {}, {}), 4U);
  ASSERT_TRUE(w->reserve(encoded_size(1, 1000)));
  EXPECT_EQ(w->segment_count(), 3U);  // back to segment_bytes for ordinary records
  EXPECT_EQ(w->append(op_kind::put, as_bytes("k"), as_bytes(std::string(1000, 's'))), 5U);
  ASSERT_TRUE(w->sync_through(5));
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report) << report.error().to_string();
  ASSERT_EQ(got.size(), 5U);
  EXPECT_EQ(got[0].value, big);
  EXPECT_EQ(got[1].kind, op_kind::erase);
  EXPECT_EQ(got[2].value, big);
  EXPECT_EQ(got[3].kind, op_kind::clear);
  EXPECT_EQ(got[4].value.size(), 1000U);
  ASSERT_EQ(report->files.size(), 3U);
  EXPECT_EQ(report->files[0].first_seq, 1U);
  EXPECT_GE(report->files[0].file_bytes, segment_header_bytes + encoded_size(1, big.size()));
  EXPECT_EQ(report->files[0].file_bytes % segment_alignment, 0U);
  EXPECT_EQ(report->files[0].records, 2U);
  EXPECT_EQ(report->files[1].first_seq, 3U);
  EXPECT_EQ(report->files[2].first_seq, 5U);
  EXPECT_EQ(report->files[2].file_bytes, 8192U);
}

TEST(LogWriter, ReserveRefusesRecordsPastTheFormatLimit) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 1, small_segments());
  auto r = w->reserve(record_max_bytes + 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
}

TEST(LogWriter, SegmentFilesAreCreatedPrivateAndPreallocated) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 1, small_segments(10000));
  struct stat st {};
  ASSERT_EQ(::stat(tmp.log().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  const auto seg = tmp.log() / segment_file_name(1);
  ASSERT_EQ(::stat(seg.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(st.st_size, 12288);  // rounded up to whole pages
  EXPECT_GE(st.st_blocks * 512, 12288);
}

TEST(LogWriter, DropThroughDeletesExactlyTheCoveredSegments) {
  temp_dir tmp;
  auto w = open_writer(tmp.log(), 1, small_segments());
  for (int i = 0; i < 300; ++i) append_next(*w);
  ASSERT_TRUE(w->sync_through(300));
  std::vector<owned_record> got;
  auto before = scan_into(tmp.log(), got);
  ASSERT_TRUE(before);
  const auto& files = before->files;
  ASSERT_GE(files.size(), 4U);
  // A seq inside segment 2: segments 0 and 1 end at or before it... only segment 0 and those wholly <= seq.
  const std::uint64_t seq = files[2].first_seq - 1;  // the last record of segment 1
  const std::uint64_t retained = w->retained_bytes();
  ASSERT_TRUE(w->drop_through(seq - 1));  // segment 1 still holds seq: only segment 0 goes
  EXPECT_FALSE(std::filesystem::exists(files[0].path));
  EXPECT_TRUE(std::filesystem::exists(files[1].path));
  EXPECT_EQ(w->retained_bytes(), retained - files[0].record_bytes);
  ASSERT_TRUE(w->drop_through(seq));
  EXPECT_FALSE(std::filesystem::exists(files[1].path));
  EXPECT_TRUE(std::filesystem::exists(files[2].path));
  EXPECT_EQ(w->segment_count(), files.size() - 2);
  // Never the current segment, whatever the seq.
  ASSERT_TRUE(w->drop_through(UINT64_MAX));
  EXPECT_EQ(w->segment_count(), 1U);
  EXPECT_TRUE(std::filesystem::exists(files.back().path));
  got.clear();
  auto after = scan_into(tmp.log(), got, files.back().first_seq - 1);
  ASSERT_TRUE(after) << after.error().to_string();
  expect_records(got, files.back().first_seq, 300);
  // Replaying from before the dropped records is refused: they are gone.
  got.clear();
  auto missing = scan_into(tmp.log(), got, 10);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), errc::corruption);
}

TEST(LogWriter, DropThroughCoversSegmentsFoundAtOpen) {
  temp_dir tmp;
  {
    auto w = open_writer(tmp.log(), 1, small_segments());
    for (int i = 0; i < 200; ++i) append_next(*w);
    ASSERT_TRUE(w->sync_through(200));
  }
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report);
  auto w = open_writer(tmp.log(), 201, small_segments());
  EXPECT_EQ(w->segment_count(), report->files.size() + 1);
  EXPECT_GE(w->retained_bytes(), report->bytes);  // older segments count by file size
  ASSERT_TRUE(w->drop_through(200));
  EXPECT_EQ(w->segment_count(), 1U);
  EXPECT_EQ(w->retained_bytes(), 0U);
  got.clear();
  auto after = scan_into(tmp.log(), got, 200);
  ASSERT_TRUE(after) << after.error().to_string();
  EXPECT_EQ(after->segments, 1U);
  EXPECT_EQ(after->next_seq, 201U);
}

TEST(LogWriter, OpenReplacesAnEmptySegmentAndRefusesOneWithRecords) {
  temp_dir tmp;
  { auto w = open_writer(tmp.log(), 5, small_segments()); }  // crashed before its first write
  {
    auto w = open_writer(tmp.log(), 5, small_segments());
    ASSERT_TRUE(w);
    EXPECT_EQ(w->segment_count(), 1U);
    append_next(*w);
    ASSERT_TRUE(w->sync_through(5));
  }
  auto again = log_writer::open(tmp.log(), test_store_id, 5, small_segments());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::invalid_argument);
  auto behind = log_writer::open(tmp.log(), test_store_id, 3, small_segments());
  ASSERT_FALSE(behind);
  EXPECT_EQ(behind.error().code(), errc::invalid_argument);
  auto zero = log_writer::open(tmp.log(), test_store_id, 0, small_segments());
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code(), errc::invalid_argument);
  auto tiny = log_writer::open(tmp.log(), test_store_id, 6, small_segments(40));
  ASSERT_FALSE(tiny);
  EXPECT_EQ(tiny.error().code(), errc::invalid_argument);
}

TEST(LogWriter, OpenRemovesLeftoversOfInterruptedCreation) {
  temp_dir tmp;
  ASSERT_TRUE(std::filesystem::create_directory(tmp.log()));
  const auto stale = tmp.log() / (segment_file_name(7) + ".tmp");
  const auto other = tmp.log() / "notes.txt";
  {
    std::FILE* f = std::fopen(stale.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  {
    std::FILE* f = std::fopen(other.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  auto w = open_writer(tmp.log(), 1, small_segments());
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(other));
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);  // notes.txt is not a segment: ignored
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->segments, 1U);
}

TEST(LogWriter, NoSpaceFromPreallocationLeavesTheWriterUsable) {
  temp_dir tmp;
  int fail_with = 0;
  log_options o = small_segments();
  o.inject_fault = [&fail_with](fault_point p) { return p == fault_point::preallocate ? fail_with : 0; };
  auto w = open_writer(tmp.log(), 1, o);
  // Growing the empty first segment for an oversize record fails the same way.
  fail_with = ENOSPC;
  auto grow = w->reserve(encoded_size(1, 20000));
  ASSERT_FALSE(grow);
  EXPECT_EQ(grow.error().code(), errc::no_space);
  fail_with = 0;
  ASSERT_TRUE(w->reserve(encoded_size(1, 20000)));
  std::uint64_t reserved_up_to = w->append(op_kind::put, as_bytes("k"), as_bytes(std::string(20000, 'g')));
  for (const int err : {ENOSPC, EFBIG, EDQUOT}) {
    // Fill the current segment, then ask for a rollover while the "disk" is full.
    const std::string v(500, 'v');
    for (;;) {
      fail_with = err;
      auto r = w->reserve(encoded_size(1, v.size()));
      if (!r) {
        EXPECT_EQ(r.error().code(), errc::no_space) << r.error().to_string();
        break;
      }
      reserved_up_to = w->append(op_kind::put, as_bytes("k"), as_bytes(v));
    }
    const std::size_t segments = w->segment_count();
    fail_with = 0;  // space returns
    ASSERT_TRUE(w->reserve(encoded_size(1, v.size())));
    EXPECT_EQ(w->segment_count(), segments + 1);
    reserved_up_to = w->append(op_kind::put, as_bytes("k"), as_bytes(v));
    ASSERT_TRUE(w->sync_through(reserved_up_to));
  }
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->last_seq, reserved_up_to);
  // No stray temp files from the failed creations.
  for (const auto& e : std::filesystem::directory_iterator(tmp.log())) {
    EXPECT_TRUE(parse_segment_name(e.path().filename().native())) << e.path();
  }
}

// The real thing: a file size limit makes posix_fallocate fail with EFBIG. Runs in a child process, since
// the limit and the ignored SIGXFSZ would otherwise stay with the test process.
TEST(LogWriter, NoSpaceFromTheFileSizeLimit) {
  temp_dir tmp;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    {
      std::signal(SIGXFSZ, SIG_IGN);
      rlimit lim{};
      ::getrlimit(RLIMIT_FSIZE, &lim);
      const rlimit small{64 * 1024, lim.rlim_max};
      auto w = log_writer::open(tmp.log(), test_store_id, 1, small_segments(8192));
      if (!w) ::_exit(10);
      if (::setrlimit(RLIMIT_FSIZE, &small) != 0) ::_exit(11);
      auto r = (*w)->reserve(encoded_size(0, 100 * 1024));  // needs a segment past the limit
      if (r || r.error().code() != errc::no_space) code = 12;
      if (code == 0 && ::setrlimit(RLIMIT_FSIZE, &lim) != 0) code = 13;
      if (code == 0 && !(*w)->reserve(encoded_size(0, 100 * 1024))) code = 14;
      if (code == 0) {
        const std::string v(100 * 1024, 'v');
        const std::uint64_t seq = (*w)->append(op_kind::put, {}, as_bytes(v));
        if (seq != 1 || !(*w)->sync_through(seq)) code = 15;
      }
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::vector<owned_record> got;
  ASSERT_TRUE(scan_into(tmp.log(), got));
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].value.size(), 100U * 1024U);
}

TEST(LogWriter, AFailedWritePoisonsTheWriter) {
  temp_dir tmp;
  bool fail = false;
  log_options o = small_segments();
  o.inject_fault = [&fail](fault_point p) { return fail && p == fault_point::write ? EIO : 0; };
  auto w = open_writer(tmp.log(), 1, o);
  append_next(*w);
  ASSERT_TRUE(w->sync_through(1));
  append_next(*w);
  fail = true;
  auto r = w->sync_through(2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::io_error);
  fail = false;  // even once the disk is back: a failed write may have left anything behind
  auto again = w->sync_through(2);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::fatal);
  EXPECT_NE(again.error().message().find("io_error"), std::string_view::npos) << again.error().to_string();
  auto res = w->reserve(100);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code(), errc::fatal);
  auto wb = w->write_buffered();
  ASSERT_FALSE(wb);
  EXPECT_EQ(wb.error().code(), errc::fatal);
  EXPECT_EQ(w->durable_seq(), 1U);
}

TEST(LogWriter, AFailedSyncPoisonsTheWriter) {
  temp_dir tmp;
  bool fail = false;
  log_options o = small_segments();
  o.inject_fault = [&fail](fault_point p) { return fail && p == fault_point::sync ? EIO : 0; };
  auto w = open_writer(tmp.log(), 1, o);
  append_next(*w);
  fail = true;
  auto r = w->sync_through(1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::io_error);
  fail = false;
  auto again = w->sync_through(1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::fatal);
  EXPECT_EQ(w->durable_seq(), 0U);
}

TEST(LogWriter, AFailedSegmentCreationChangesNothing) {
  temp_dir tmp;
  bool fail = false;
  log_options o = small_segments();
  o.inject_fault = [&fail](fault_point p) { return fail && p == fault_point::create_file ? EACCES : 0; };
  auto w = open_writer(tmp.log(), 1, o);
  while (w->segment_count() == 1) append_next(*w);
  const std::uint64_t last = w->last_seq();
  fail = true;
  // Fill until the next reserve needs a rollover, which fails: io_error, not poisoned.
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    auto r = w->reserve(encoded_size(10, 200));
    if (!r) {
      EXPECT_EQ(r.error().code(), errc::io_error);
      refused = true;
    } else {
      (void)w->append(op_kind::put, as_bytes("0123456789"), as_bytes(std::string(200, 'x')));
    }
  }
  ASSERT_TRUE(refused);
  fail = false;
  ASSERT_TRUE(w->reserve(encoded_size(10, 200)));
  (void)w->append(op_kind::put, as_bytes("0123456789"), as_bytes(std::string(200, 'x')));
  ASSERT_TRUE(w->sync_through(w->last_seq()));
  std::vector<owned_record> got;
  auto report = scan_into(tmp.log(), got);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->last_seq, w->last_seq());
  EXPECT_GT(report->last_seq, last);
}

}  // namespace
}  // namespace tessel::oplog
