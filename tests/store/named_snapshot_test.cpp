// Named snapshots over every backend: create, list, open, drop and their errors; in durable stores they
// survive close, a crash and reopen, stay intact while the store is rewritten after reopen, can be restored
// after reopen, and a drop after reopen gives their blocks back; `check` accounts for their blocks; a
// damaged, foreign or newer catalog is refused at open.
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/snapshot.hpp"
#include "tessel/store.hpp"

#include "common/checksum.hpp"
#include "common/le_codec.hpp"
#include "store/snapshot_catalog.hpp"
#include "store/store_check.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/store/snapshot_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using test::expect_snapshot;
using test::kind_names;
using test::model;

template <class Kind>
class NamedSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = open(); }
  std::unique_ptr<store> open(options o = Kind::opts()) {
    if constexpr (Kind::durable) return test::must_open(dir_, o);
    auto s = store::open(o);
    EXPECT_TRUE(s.has_value());
    return s ? std::move(*s) : nullptr;
  }
  /// Closes and reopens a durable store (`crash`: without committing or closing).
  void reopen(bool crash = false) {
    if (crash) {
      test::crash(std::move(store_));
    } else {
      ASSERT_TRUE(store_->close());
      store_.reset();
    }
    store_ = open();
    ASSERT_TRUE(store_);
  }
  store& db() { return *store_; }
  void put(const std::string& k, const std::string& v) {
    ASSERT_TRUE(db().put_string(k, v)) << k;
    model_[k] = v;
  }
  void fill(int n, const std::string& value) {
    for (int i = 0; i < n; ++i) put("key/" + std::to_string(i), value + "-" + std::to_string(i));
  }
  void create(const std::string& name) {
    auto info = db().create_named_snapshot(name);
    ASSERT_TRUE(info.has_value()) << info.error().to_string();
    EXPECT_EQ(info->name, name);
    EXPECT_EQ(info->len, model_.size());
    named_[name] = model_;
  }
  /// Every named snapshot reads exactly what the store held when it was created.
  void expect_named() {
    auto list = db().named_snapshots();
    ASSERT_TRUE(list.has_value());
    ASSERT_EQ(list->size(), named_.size());
    auto it = named_.begin();
    for (const named_snapshot_info& info : *list) {
      EXPECT_EQ(info.name, it->first);
      EXPECT_EQ(info.len, it->second.size());
      auto snap = db().open_named_snapshot(info.name);
      ASSERT_TRUE(snap.has_value()) << snap.error().to_string();
      expect_snapshot(*snap, it->second);
      ++it;
    }
  }
  /// Closes the store and checks it: healthy, its named snapshots counted.
  void close_and_check() {
    ASSERT_TRUE(db().close());
    store_.reset();
    auto report = check_store(dir_);
    ASSERT_TRUE(report.has_value()) << report.error().to_string();
    EXPECT_TRUE(report->problems.empty()) << report->problems.front();
    EXPECT_EQ(report->named_snapshots, named_.size());
  }

  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
  std::unique_ptr<store> store_;
  model model_;
  std::map<std::string, model> named_;
};

TYPED_TEST_SUITE(NamedSnapshotTest, test::kinds, kind_names);

TYPED_TEST(NamedSnapshotTest, CreateListOpenAndDrop) {
  this->fill(500, "a");
  this->create("first");
  this->fill(700, "b");
  this->create("second");
  this->fill(300, "c");
  this->expect_named();
  auto first = this->db().open_named_snapshot("first");
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(this->db().drop_named_snapshot("first"));
  this->named_.erase("first");
  this->expect_named();
  EXPECT_EQ(this->db().open_named_snapshot("first").error().code(), errc::not_found);
  // A handle opened before the drop still reads its version.
  model at_first;
  for (int i = 0; i < 500; ++i) at_first["key/" + std::to_string(i)] = "a-" + std::to_string(i);
  expect_snapshot(*first, at_first);
  test::expect_contents(this->db(), this->model_);
}

TYPED_TEST(NamedSnapshotTest, BadNamesAndUnknownNamesAreTypedErrors) {
  this->fill(10, "a");
  EXPECT_EQ(this->db().create_named_snapshot("").error().code(), errc::invalid_argument);
  EXPECT_EQ(this->db().create_named_snapshot(std::string(129, 'n')).error().code(), errc::invalid_argument);
  EXPECT_EQ(this->db().create_named_snapshot("tab\there").error().code(), errc::invalid_argument);
  this->create(std::string(128, 'n'));
  this->create("taken");
  auto again = this->db().create_named_snapshot("taken");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), errc::invalid_argument);
  EXPECT_NE(again.error().message().find("taken"), std::string_view::npos);
  EXPECT_EQ(this->db().drop_named_snapshot("missing").error().code(), errc::not_found);
  EXPECT_EQ(this->db().open_named_snapshot("missing").error().code(), errc::not_found);
  this->expect_named();
}

TYPED_TEST(NamedSnapshotTest, RestoringANamedSnapshotKeepsIt) {
  this->fill(400, "a");
  this->create("base");
  const model base = this->model_;
  this->fill(600, "b");
  auto snap = this->db().open_named_snapshot("base");
  ASSERT_TRUE(snap.has_value());
  ASSERT_TRUE(this->db().restore(*snap));
  this->model_ = base;
  this->put("after", "restore");
  test::expect_contents(this->db(), this->model_);
  this->expect_named();
}

// ---- Durable stores ----

template <class Kind>
class DurableNamedSnapshotTest : public NamedSnapshotTest<Kind> {};
TYPED_TEST_SUITE(DurableNamedSnapshotTest, test::durable_kinds, kind_names);

TYPED_TEST(DurableNamedSnapshotTest, SurviveCloseAndReopen) {
  this->fill(1000, "a");
  this->create("a");
  this->fill(1500, "b");
  this->create("b");
  for (int i = 0; i < 1500; i += 3) {
    ASSERT_TRUE(this->db().erase(as_bytes("key/" + std::to_string(i))));
    this->model_.erase("key/" + std::to_string(i));
  }
  this->reopen();
  this->expect_named();
  test::expect_contents(this->db(), this->model_);
  this->close_and_check();
}

TYPED_TEST(DurableNamedSnapshotTest, SurviveACrash) {
  this->fill(800, "a");
  this->create("a");
  this->fill(800, "b");  // logged, not committed
  ASSERT_TRUE(this->db().flush());
  this->reopen(/*crash=*/true);
  this->expect_named();
  test::expect_contents(this->db(), this->model_);
  this->close_and_check();
}

// After a reopen the snapshot's blocks that the live tree no longer reaches are on no list of the new
// process: rewriting the store through many commits must neither free nor change them.
TYPED_TEST(DurableNamedSnapshotTest, StayIntactWhileTheStoreIsRewrittenAfterReopen) {
  this->fill(2000, "a");
  this->create("a");
  this->fill(2000, "b");
  this->reopen();
  for (int round = 0; round < 5; ++round) {
    this->fill(2000, "r" + std::to_string(round));
    for (int i = round; i < 2000; i += 7) {
      ASSERT_TRUE(this->db().erase(as_bytes("key/" + std::to_string(i))));
      this->model_.erase("key/" + std::to_string(i));
    }
    ASSERT_TRUE(this->db().checkpoint());
    if (round == 2) this->reopen(/*crash=*/true);
  }
  this->expect_named();
  test::expect_contents(this->db(), this->model_);
  this->close_and_check();
}

TYPED_TEST(DurableNamedSnapshotTest, RestoreAfterReopenIsDurable) {
  this->fill(600, "a");
  this->create("a");
  const model at_a = this->model_;
  this->fill(900, "b");
  this->reopen();
  auto snap = this->db().open_named_snapshot("a");
  ASSERT_TRUE(snap.has_value());
  ASSERT_TRUE(this->db().restore(*snap));
  snap->release();
  this->model_ = at_a;
  this->fill(200, "c");
  ASSERT_TRUE(this->db().flush());
  this->reopen(/*crash=*/true);
  test::expect_contents(this->db(), this->model_);
  this->expect_named();
  this->close_and_check();
}

TYPED_TEST(DurableNamedSnapshotTest, DropAfterReopenGivesTheSpaceBack) {
  this->fill(3000, "a");
  this->create("old");
  this->fill(3000, "b");  // every leaf replaced: the old version's leaves are its own
  this->reopen();
  const std::size_t with_old = this->db().memory().live_bytes;
  ASSERT_TRUE(this->db().drop_named_snapshot("old"));
  this->named_.clear();
  ASSERT_TRUE(this->db().checkpoint());
  const std::size_t without = this->db().memory().live_bytes;
  EXPECT_LT(without, with_old);
  // What remains is about what the live tree needs.
  EXPECT_LE(without, this->db().size_bytes() + this->db().size_bytes() / 4);
  this->reopen();
  EXPECT_EQ(this->db().named_snapshots()->size(), 0U);
  test::expect_contents(this->db(), this->model_);
  this->close_and_check();
}

TYPED_TEST(DurableNamedSnapshotTest, ReadOnlyStoresListAndReadButDoNotChangeThem) {
  this->fill(300, "a");
  this->create("a");
  this->fill(300, "b");
  ASSERT_TRUE(this->db().close());
  this->store_.reset();
  options ro = TypeParam::opts();
  ro.read_only = true;
  this->store_ = this->open(ro);
  ASSERT_TRUE(this->store_);
  this->expect_named();
  EXPECT_EQ(this->db().create_named_snapshot("b").error().code(), errc::not_supported);
  EXPECT_EQ(this->db().drop_named_snapshot("a").error().code(), errc::not_supported);
}

// ---- The catalog file ----

class CatalogDamageTest : public NamedSnapshotTest<test::mmap_kind> {
 protected:
  std::filesystem::path catalog() const { return std::filesystem::path(dir_) / detail::snapshot_catalog_file_name; }
  void make_catalog() {
    fill(100, "a");
    create("a");
    ASSERT_TRUE(db().close());
    store_.reset();
  }
  void expect_refused(errc code, const std::string& words) {
    auto s = store::open(dir_, test::mmap_kind::opts());
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), code) << s.error().to_string();
    EXPECT_NE(s.error().message().find(words), std::string_view::npos) << s.error().to_string();
  }
};

TEST_F(CatalogDamageTest, AFlippedByteIsCorruption) {
  make_catalog();
  test::flip_byte(catalog(), 40);
  expect_refused(errc::corruption, "checksum");
  auto report = check_store(dir_);
  ASSERT_TRUE(report.has_value());
  ASSERT_FALSE(report->problems.empty());
  EXPECT_NE(report->problems.front().find("snapshot catalog"), std::string::npos);
}

TEST_F(CatalogDamageTest, ATruncatedCatalogIsCorruption) {
  make_catalog();
  std::filesystem::resize_file(catalog(), 20);
  expect_refused(errc::corruption, "truncated");
}

TEST_F(CatalogDamageTest, ANewerVersionIsVersionMismatch) {
  make_catalog();
  std::vector<std::byte> bytes = test::read_whole(catalog());
  store_le<std::uint32_t>(bytes.data() + 8, detail::snapshot_catalog_version + 1);
  const std::size_t body = bytes.size() - 8;
  store_le<std::uint64_t>(bytes.data() + body, checksum64(std::span<const std::byte>(bytes).first(body)));
  test::write_bytes(catalog(), 0, bytes);
  expect_refused(errc::version_mismatch, "version");
}

TEST_F(CatalogDamageTest, AnotherStoresCatalogIsCorruption) {
  make_catalog();
  const std::string other = tmp_.sub("other");
  {
    auto s = test::must_open(other, test::mmap_kind::opts());
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_string("k", "v"));
    ASSERT_TRUE(s->close());
  }
  std::filesystem::copy_file(catalog(), std::filesystem::path(other) / detail::snapshot_catalog_file_name);
  auto s = store::open(other, test::mmap_kind::opts());
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), errc::corruption);
  EXPECT_NE(s.error().message().find("another store"), std::string_view::npos) << s.error().to_string();
}

TEST(SnapshotCatalogTest, EncodeDecodeRoundTrip) {
  const detail::catalog_store_id id{1, 2, 3};
  std::vector<detail::named_snapshot_record> records(2);
  records[0] = {"nightly", 0x1234'5678, 7, 100, 4096, 55, 1700000000000000000};
  records[1] = {std::string(128, 'x'), 0, 9, 0, 0, 60, 1};
  const std::string encoded = detail::encode_snapshot_catalog(id, records);
  const std::span<const std::byte> bytes = as_bytes(encoded);
  auto back = detail::decode_snapshot_catalog(bytes, id, "catalog");
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  ASSERT_EQ(back->size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*back)[i].name, records[i].name);
    EXPECT_EQ((*back)[i].root, records[i].root);
    EXPECT_EQ((*back)[i].epoch, records[i].epoch);
    EXPECT_EQ((*back)[i].key_count, records[i].key_count);
    EXPECT_EQ((*back)[i].leaf_bytes, records[i].leaf_bytes);
    EXPECT_EQ((*back)[i].at_seq, records[i].at_seq);
    EXPECT_EQ((*back)[i].created_unix_ns, records[i].created_unix_ns);
  }
  // Every shorter prefix is refused, never read past.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(detail::decode_snapshot_catalog(bytes.first(n), id, "catalog").has_value()) << n;
  }
}

}  // namespace
}  // namespace tessel
