// Checkpoint files: export of a snapshot and import into dram, mmap and pmem stores round-trip exactly
// (binary keys, empty and large values, many frames); the file carries the snapshot's at_seq; an export
// taken while the store changes holds the snapshot's version; and every kind of damage -- flipped bytes in
// the header, a frame or the trailer, truncation, appended bytes, a newer version -- is refused before
// anything is written.
#include "tessel/checkpoint.hpp"

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tessel/store.hpp"

#include "common/checksum.hpp"
#include "common/le_codec.hpp"
#include "store/checkpoint_format.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/pmem_env.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using test::model;
using ::testing::HasSubstr;

std::unique_ptr<store> dram_store() {
  auto s = store::open(options{});
  EXPECT_TRUE(s.has_value());
  return s ? std::move(*s) : nullptr;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = dram_store();
    ASSERT_TRUE(source_);
  }
  void put(const std::string& k, const std::string& v) {
    ASSERT_TRUE(source_->put_string(k, v));
    model_[k] = v;
  }
  /// A mix of binary keys (0x00, prefixes of each other, long), empty and large values, many frames.
  void fill() {
    std::mt19937_64 rng(3);
    put(std::string("\0", 1), "zero");
    put(std::string("\0\0", 2), "");
    put("/a/b", "parent");
    put("/a/b/c", "child");
    put(std::string(5000, 'k'), "long key");
    put("big", std::string(3 << 20, 'B'));  // a frame of its own, larger than the target
    for (int i = 0; i < 30'000; ++i) {
      std::string k(8 + rng() % 24, '\0');
      for (char& c : k) c = static_cast<char>(rng());
      put(k, std::string(rng() % 100, static_cast<char>('a' + i % 26)));
    }
  }
  std::string exported() {
    const std::string file = tmp_.sub("ckpt") + "/snapshot.tessel-checkpoint";
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    auto snap = source_->snapshot();
    EXPECT_TRUE(snap.has_value());
    auto info = export_checkpoint(*snap, file);
    EXPECT_TRUE(info.has_value()) << info.error().to_string();
    return file;
  }
  /// Imports `file` into a fresh dram store, expecting `code`; the store must stay empty.
  void expect_refused(const std::string& file, errc code) {
    auto target = dram_store();
    ASSERT_TRUE(target);
    const auto r = import_checkpoint(file, *target);
    ASSERT_FALSE(r.has_value()) << "a damaged checkpoint was imported";
    EXPECT_EQ(r.error().code(), code) << r.error().to_string();
    EXPECT_TRUE(target->is_empty()) << "a refused import left entries behind";
  }

  test::temp_dir tmp_;
  std::unique_ptr<store> source_;
  model model_;
};

TEST_F(CheckpointTest, RoundTripsExactlyIntoEveryBackend) {
  ASSERT_NO_FATAL_FAILURE(fill());
  const std::string file = exported();
  const auto info = read_checkpoint_info(file);
  ASSERT_TRUE(info.has_value()) << info.error().to_string();
  EXPECT_EQ(info->keys, model_.size());
  std::uint64_t data = 0;
  for (const auto& [k, v] : model_) data += k.size() + v.size();
  EXPECT_EQ(info->data_bytes, data);
  EXPECT_EQ(info->file_bytes, std::filesystem::file_size(file));

  test::force_pmem_flush();
  options pmem;
  pmem.backend = backend::pmem;
  pmem.pool_bytes = 128 << 20;
  for (const options& o : {options{}, test::durable_options(durability::sync), pmem}) {
    SCOPED_TRACE(static_cast<int>(o.backend));
    std::unique_ptr<store> target =
        o.backend == backend::dram
            ? dram_store()
            : test::must_open(tmp_.sub("target" + std::to_string(static_cast<int>(o.backend))), o);
    ASSERT_TRUE(target);
    std::uint64_t last_progress = 0;
    const auto imported =
        import_checkpoint(file, *target, [&](std::uint64_t entries, std::uint64_t) { last_progress = entries; });
    ASSERT_TRUE(imported.has_value()) << imported.error().to_string();
    EXPECT_EQ(imported->keys, model_.size());
    EXPECT_EQ(last_progress, model_.size());
    test::expect_contents(*target, model_);
  }
}

TEST_F(CheckpointTest, AnExportHoldsTheSnapshotsVersionWhileTheStoreChanges) {
  for (int i = 0; i < 2000; ++i) put("key/" + std::to_string(i), "v0");
  auto snap = source_->snapshot();
  ASSERT_TRUE(snap.has_value());
  const model at_snapshot = model_;
  for (int i = 0; i < 2000; i += 2) put("key/" + std::to_string(i), "v1");
  ASSERT_TRUE(source_->erase(as_bytes("key/7")));
  const std::string file = tmp_.sub("c") + "/file";
  std::filesystem::create_directories(tmp_.sub("c"));
  ASSERT_TRUE(export_checkpoint(*snap, file).has_value());
  auto target = dram_store();
  ASSERT_TRUE(import_checkpoint(file, *target).has_value());
  test::expect_contents(*target, at_snapshot);
}

TEST_F(CheckpointTest, TheFileCarriesTheSnapshotsAtSeq) {
  auto s = test::must_open(tmp_.sub("durable"), test::durable_options(durability::log));
  ASSERT_TRUE(s);
  for (int i = 0; i < 37; ++i) ASSERT_TRUE(s->put_string("k" + std::to_string(i), "v"));
  auto snap = s->snapshot();
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->at_seq(), 37U);
  ASSERT_TRUE(s->put_string("after", "v"));
  const std::string file = tmp_.sub("seq") + "/file";
  std::filesystem::create_directories(tmp_.sub("seq"));
  const auto info = export_checkpoint(*snap, file);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->at_seq, 37U);
  EXPECT_EQ(read_checkpoint_info(file)->at_seq, 37U);
  EXPECT_EQ(info->keys, 37U);
}

TEST_F(CheckpointTest, AnEmptySnapshotRoundTrips) {
  const std::string file = exported();
  auto target = dram_store();
  const auto info = import_checkpoint(file, *target);
  ASSERT_TRUE(info.has_value()) << info.error().to_string();
  EXPECT_EQ(info->keys, 0U);
  EXPECT_TRUE(target->is_empty());
}

TEST_F(CheckpointTest, ExportRefusesAnExistingFileAndAnEmptyHandle) {
  put("a", "1");
  const std::string file = exported();
  const auto before = test::file_hash(file);
  auto snap = source_->snapshot();
  const auto again = export_checkpoint(*snap, file);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), errc::invalid_argument);
  EXPECT_EQ(test::file_hash(file), before) << "an existing file is never overwritten";
  const auto empty = export_checkpoint(snapshot(), file + ".2");
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), errc::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(file + ".2"));
}

// A full disk in the middle of an export (frames are written on a second thread): no_space, and no file is
// left behind. In a child process, since the file size limit and the ignored SIGXFSZ would stay with it.
TEST_F(CheckpointTest, AnExportThatRunsOutOfSpaceFailsAndLeavesNoFile) {
  for (int i = 0; i < 40000; ++i) put("key/" + std::to_string(i), std::string(100, 'v'));
  const std::string file = tmp_.sub("full") + "/snapshot.tessel-checkpoint";
  std::filesystem::create_directories(std::filesystem::path(file).parent_path());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{};
    ::getrlimit(RLIMIT_FSIZE, &lim);
    const rlimit small{2 << 20, lim.rlim_max};  // the export needs about 4.6 MB
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) ::_exit(10);
    auto snap = source_->snapshot();
    if (!snap) ::_exit(11);
    auto info = export_checkpoint(*snap, file);
    if (info || info.error().code() != errc::no_space) ::_exit(12);
    ::_exit(std::filesystem::exists(file) ? 13 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setrlimit, 11: snapshot, 12: not no_space, 13: the file remained";
}

// A put that fails in the middle of an import (the target's pool is full): no_space, and the target is
// empty again, also after a reopen.
TEST_F(CheckpointTest, AnImportThatRunsOutOfSpaceLeavesTheStoreEmpty) {
  for (int i = 0; i < 6400; ++i) put("value-" + std::to_string(10000 + i), std::string(4 << 10, 'v'));
  const std::string file = exported();
  test::force_pmem_flush();
  options small;
  small.backend = backend::pmem;
  small.pool_bytes = 16 << 20;  // the file holds 25 MiB of values; the pool takes about 1100 of them
  const std::string dir = tmp_.sub("full-pool");
  auto target = test::must_open(dir, small);
  ASSERT_TRUE(target);
  const auto r = import_checkpoint(file, *target);
  ASSERT_FALSE(r.has_value()) << "25 MiB imported into a 16 MiB pool";
  EXPECT_EQ(r.error().code(), errc::no_space) << r.error().to_string();
  EXPECT_TRUE(target->is_empty());
  target.reset();
  auto reopened = test::must_open(dir, small);
  ASSERT_TRUE(reopened);
  EXPECT_TRUE(reopened->is_empty());
}

TEST_F(CheckpointTest, ImportRefusesAStoreThatIsNotEmptyAndAMissingFile) {
  put("a", "1");
  const std::string file = exported();
  auto target = dram_store();
  ASSERT_TRUE(target->put_string("x", "y"));
  const auto r = import_checkpoint(file, *target);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_EQ(target->len(), 1U);
  expect_refused(file + ".missing", errc::not_found);
}

// The loader under import checks emptiness itself, under the writer's exclusion: a store that gained a key
// after the caller looked is refused and keeps it, in memory and in a durable store.
TEST_F(CheckpointTest, ASortedLoadRefusesAStoreThatIsNotEmpty) {
  auto dram = dram_store();
  auto durable = test::must_open(tmp_.sub("sorted-load-target"), test::durable_options(durability::sync));
  ASSERT_TRUE(durable);
  for (store* target : {dram.get(), durable.get()}) {
    ASSERT_TRUE(target->put_string("x", "y"));
    bool produced = false;
    const auto r = detail::store_access::impl(*target).load_sorted([&](detail::store_impl::sorted_sink sink) {
      produced = true;
      return sink(as_bytes(std::string_view("a")), as_bytes(std::string_view("1")));
    });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << r.error().to_string();
    EXPECT_FALSE(produced) << "entries were asked for before the store was found not empty";
    EXPECT_EQ(target->len(), 1U);
    EXPECT_EQ(target->get_string("x").value_or(""), "y");
  }
}

TEST_F(CheckpointTest, EveryKindOfDamageIsRefusedAndLeavesTheStoreEmpty) {
  ASSERT_NO_FATAL_FAILURE(fill());
  const std::string file = exported();
  const auto whole = test::read_whole(file);
  const std::uint64_t size = whole.size();
  auto restore = [&] {
    std::filesystem::remove(file);
    std::filesystem::copy_file(tmp_.sub("ckpt") + "/pristine", file);
  };
  std::filesystem::copy_file(file, tmp_.sub("ckpt") + "/pristine");
  // Flipped bytes: header, first frame head and payload, a late frame, the end frame, the trailer.
  for (const std::uint64_t at : {std::uint64_t{3}, std::uint64_t{20}, std::uint64_t{64}, std::uint64_t{64 + 4},
                                 std::uint64_t{64 + 100}, size / 2, size - 40, size - 20, size - 1}) {
    SCOPED_TRACE("flipped byte at " + std::to_string(at));
    test::flip_byte(file, at);
    expect_refused(file, errc::corruption);
    restore();
  }
  // Truncated anywhere, and bytes appended.
  for (const std::uint64_t keep :
       {std::uint64_t{0}, std::uint64_t{10}, std::uint64_t{64}, std::uint64_t{5000}, size / 3, size - 33, size - 1}) {
    SCOPED_TRACE("truncated to " + std::to_string(keep));
    test::truncate_file(file, keep);
    expect_refused(file, errc::corruption);
    restore();
  }
  test::write_bytes(file, size, std::vector<std::byte>(16, std::byte{0}));
  expect_refused(file, errc::corruption);
  restore();
  // A newer format version with a valid header checksum.
  auto head = test::read_bytes(file, 0, detail::checkpoint_header_bytes);
  store_le<std::uint32_t>(head.data() + 8, detail::checkpoint_format_version + 1);
  store_le<std::uint64_t>(head.data() + 56, checksum64(std::span<const std::byte>(head).first(56)));
  test::write_bytes(file, 0, head);
  expect_refused(file, errc::version_mismatch);
  restore();
  // Damage found after entries were put (a late frame), into a durable store: empty, and after a reopen.
  test::flip_byte(file, size - 40);
  {
    const std::string dir = tmp_.sub("durable-target");
    auto durable = test::must_open(dir, test::durable_options(durability::sync));
    ASSERT_TRUE(durable);
    const auto r = import_checkpoint(file, *durable);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), errc::corruption);
    EXPECT_TRUE(durable->is_empty());
    durable.reset();
    auto reopened = test::must_open(dir, test::durable_options(durability::sync));
    ASSERT_TRUE(reopened);
    EXPECT_TRUE(reopened->is_empty());
  }
  restore();
  // The pristine file still imports.
  auto target = dram_store();
  ASSERT_TRUE(import_checkpoint(file, *target).has_value());
  test::expect_contents(*target, model_);
}

}  // namespace
}  // namespace tessel
