// Snapshots over every backend (dram, mmap, pmem): a snapshot reads exactly the state it was taken at while
// the store changes; cursors and scans of it; several at once; restore (including across reopen for the
// durable backends); reclamation -- releasing every snapshot gives the memory back, and a held snapshot
// pins only what it reaches -- and close with snapshots alive.
#include "tessel/snapshot.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "store/store_check.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/store/snapshot_test_support.hpp"
#include "tests/support/pmem_env.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using test::dram_kind;
using test::expect_snapshot;
using test::kind_names;
using test::kinds;
using test::mmap_kind;
using test::model;
using test::pairs;
using test::pmem_kind;
using test::scan_all;

template <class Kind>
class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = open(); }
  std::unique_ptr<store> open() {
    if constexpr (Kind::durable) return test::must_open(dir_, Kind::opts());
    auto s = store::open(Kind::opts());
    EXPECT_TRUE(s.has_value());
    return s ? std::move(*s) : nullptr;
  }
  store& db() { return *store_; }
  void put(const std::string& k, const std::string& v) {
    ASSERT_TRUE(db().put_string(k, v)) << k;
    model_[k] = v;
  }
  void erase(const std::string& k) {
    ASSERT_TRUE(db().erase(as_bytes(k)));
    model_.erase(k);
  }
  snapshot take() {
    auto s = db().snapshot();
    EXPECT_TRUE(s.has_value()) << s.error().to_string();
    return s ? *s : snapshot();
  }

  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
  std::unique_ptr<store> store_;
  model model_;
};

TYPED_TEST_SUITE(SnapshotTest, kinds, kind_names);

TYPED_TEST(SnapshotTest, ReadsTheStateItWasTakenAtWhileTheStoreChanges) {
  for (int i = 0; i < 2000; ++i) this->put("key/" + std::to_string(i), "v0-" + std::to_string(i));
  const model at_snapshot = this->model_;
  const std::size_t leaf_bytes_at_snapshot = this->db().memory().leaf_bytes;
  const snapshot snap = this->take();
  for (int i = 0; i < 2000; i += 3) this->put("key/" + std::to_string(i), "v1-" + std::to_string(i));
  for (int i = 1; i < 2000; i += 7) this->erase("key/" + std::to_string(i));
  for (int i = 0; i < 500; ++i) this->put("new/" + std::to_string(i), "n");
  ASSERT_TRUE(this->db().checkpoint());  // durable stores: a commit in between changes nothing either
  expect_snapshot(snap, at_snapshot);
  test::expect_contents(this->db(), this->model_);
  EXPECT_FALSE(snap.contains(as_bytes("new/1")));
  EXPECT_EQ(snap.get(as_bytes("new/1")).error().code(), errc::not_found);
  EXPECT_EQ(snap.leaf_bytes(), leaf_bytes_at_snapshot);
  EXPECT_GT(snap.size_bytes(), snap.leaf_bytes()) << "inner nodes count too";
}

TYPED_TEST(SnapshotTest, ScansOfASnapshotIgnoreLaterWrites) {
  for (const char* k : {"/a/1", "/a/2", "/a/3", "/b/1", "/c"}) this->put(k, std::string("v") + k);
  const snapshot snap = this->take();
  this->put("/a/15", "x");
  this->erase("/a/2");
  this->put("/b/0", "y");
  pairs prefix;
  for (const entry& e : snap.prefix_scan(as_bytes("/a/"))) prefix.emplace_back(to_string(e.key), to_string(e.value));
  EXPECT_EQ(prefix, (pairs{{"/a/1", "v/a/1"}, {"/a/2", "v/a/2"}, {"/a/3", "v/a/3"}}));
  pairs range;
  for (const entry& e : snap.range_scan(as_bytes("/a/3"), as_bytes("/c"))) range.emplace_back(to_string(e.key), "");
  EXPECT_EQ(range, (pairs{{"/a/3", ""}, {"/b/1", ""}}));
  // A scan of a temporary snapshot keeps its version alive.
  pairs live;
  for (const entry& e : this->take().prefix_scan(as_bytes("/b/"))) live.emplace_back(to_string(e.key), "");
  EXPECT_EQ(live, (pairs{{"/b/0", ""}, {"/b/1", ""}}));
}

TYPED_TEST(SnapshotTest, SeveralSnapshotsEachKeepTheirOwnVersion) {
  std::mt19937_64 rng(7);
  std::vector<std::pair<snapshot, model>> versions;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 700; ++i) {
      const std::string k = "k" + std::to_string(rng() % 1500);
      if (rng() % 4 == 0) {
        this->erase(k);
      } else {
        this->put(k, std::to_string(round) + "-" + std::to_string(i));
      }
    }
    versions.emplace_back(this->take(), this->model_);
    if (round == 3) versions.erase(versions.begin() + 1);  // released out of order
  }
  for (const auto& [snap, m] : versions) expect_snapshot(snap, m);
  EXPECT_LT(versions[0].first.epoch(), versions[1].first.epoch());
}

TYPED_TEST(SnapshotTest, RestoreUndoesEveryLaterChange) {
  for (int i = 0; i < 1000; ++i) this->put("key/" + std::to_string(i), "base");
  const model base = this->model_;
  const snapshot snap = this->take();
  for (int i = 0; i < 1000; i += 2) this->put("key/" + std::to_string(i), "changed");
  for (int i = 1; i < 1000; i += 5) this->erase("key/" + std::to_string(i));
  this->put("added", "1");
  const snapshot later = this->take();
  const model later_model = this->model_;
  ASSERT_TRUE(this->db().restore(snap));
  this->model_ = base;
  test::expect_contents(this->db(), base);
  // Writes after a restore copy the restored blocks: both snapshots stay as they were.
  this->put("key/0", "after-restore");
  this->erase("key/999");
  expect_snapshot(snap, base);
  expect_snapshot(later, later_model);
  test::expect_contents(this->db(), this->model_);
  ASSERT_TRUE(this->db().restore(later));
  this->model_ = later_model;
  test::expect_contents(this->db(), later_model);
}

TYPED_TEST(SnapshotTest, AfterRestoresAndReleasesTheStoreHoldsExactlyItsData) {
  std::mt19937_64 rng(11);
  auto churn = [&] {
    for (int i = 0; i < 1500; ++i) {
      const std::string k = "k" + std::to_string(rng() % 2000);
      if (rng() % 3 == 0) {
        this->erase(k);
      } else {
        this->put(k, std::string(rng() % 60, 'x'));
      }
    }
  };
  churn();
  std::vector<std::pair<snapshot, model>> kept;
  for (int round = 0; round < 4; ++round) {
    kept.emplace_back(this->take(), this->model_);
    churn();
  }
  // Back and forth, older and newer, with writes in between: each restore brings back blocks that older
  // snapshots do not reach.
  for (const int i : {1, 3, 0, 2, 3}) {
    ASSERT_TRUE(this->db().restore(kept[static_cast<std::size_t>(i)].first));
    this->model_ = kept[static_cast<std::size_t>(i)].second;
    churn();
    test::expect_contents(this->db(), this->model_);
  }
  kept.clear();
  churn();  // reclaims now that no snapshot is held
  if (TypeParam::durable) {
    ASSERT_TRUE(this->db().checkpoint());
    churn();
    ASSERT_TRUE(this->db().checkpoint());
  }
  test::expect_contents(this->db(), this->model_);
  const std::size_t reachable = this->take().size_bytes();
  EXPECT_LE(this->db().memory().live_bytes, reachable + reachable / 4 + 4096) << "blocks leaked by restores";
}

TYPED_TEST(SnapshotTest, RestoreRefusesEmptyHandlesAndOtherStoresSnapshots) {
  this->put("a", "1");
  const auto empty = this->db().restore(snapshot());
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), errc::invalid_argument);
  auto other = store::open(options{});
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE((*other)->put_string("b", "2"));
  auto foreign = (*other)->snapshot();
  ASSERT_TRUE(foreign.has_value());
  const auto refused = this->db().restore(*foreign);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(refused.error().message()), ::testing::HasSubstr("another store"));
  test::expect_contents(this->db(), this->model_);
  // An empty handle reads nothing.
  const snapshot none;
  EXPECT_FALSE(none.valid());
  EXPECT_EQ(none.len(), 0U);
  EXPECT_FALSE(none.contains(as_bytes("a")));
  EXPECT_TRUE(scan_all(none).empty());
}

TYPED_TEST(SnapshotTest, ReleasingEverySnapshotGivesTheMemoryBack) {
  for (int i = 0; i < 5000; ++i) this->put("key/" + std::to_string(i), std::string(40, 'a'));
  std::vector<snapshot> held;
  for (int round = 0; round < 5; ++round) {
    held.push_back(this->take());
    for (int i = 0; i < 5000; ++i)
      this->put("key/" + std::to_string(i), std::string(40, static_cast<char>('b' + round)));
  }
  const std::size_t pinned = this->db().memory().live_bytes;
  held.clear();
  this->put("one-more", "write");  // the writer reclaims after a release
  ASSERT_TRUE(this->db().checkpoint());
  const std::size_t live = this->db().memory().live_bytes;
  const std::size_t reachable = this->take().size_bytes();
  EXPECT_LT(live, pinned / 3) << "five versions were pinned, one is live";
  // The rest is what the live tree reaches, plus for a durable store its block headers.
  EXPECT_LE(live, reachable + reachable / 4 + 4096);
}

TYPED_TEST(SnapshotTest, AHeldSnapshotPinsOnlyWhatItReaches) {
  // A snapshot of keys a/*; then a/* never changes while b/* is overwritten again and again.
  for (int i = 0; i < 3000; ++i) this->put("a/" + std::to_string(i), std::string(32, 'a'));
  const snapshot snap = this->take();
  std::size_t after_first_round = 0;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 3000; ++i) {
      this->put("b/" + std::to_string(i), std::string(32, static_cast<char>('a' + round % 26)));
    }
    if (TypeParam::durable && round % 4 == 3) {
      ASSERT_TRUE(this->db().checkpoint());
    }
    if (round == 1) after_first_round = this->db().memory().live_bytes;
  }
  const std::size_t end = this->db().memory().live_bytes;
  EXPECT_LT(end, after_first_round * 2) << "memory grew with every overwrite round: " << after_first_round << " -> "
                                        << end;
  expect_snapshot(snap, [&] {
    model m;
    for (int i = 0; i < 3000; ++i) m["a/" + std::to_string(i)] = std::string(32, 'a');
    return m;
  }());
}

TYPED_TEST(SnapshotTest, ClearAfterASnapshotKeepsTheSnapshot) {
  for (int i = 0; i < 300; ++i) this->put("k" + std::to_string(i), "v");
  const model before = this->model_;
  const snapshot snap = this->take();
  ASSERT_TRUE(this->db().clear());
  this->model_.clear();
  EXPECT_TRUE(this->db().is_empty());
  expect_snapshot(snap, before);
  ASSERT_TRUE(this->db().restore(snap));
  test::expect_contents(this->db(), before);
}

TYPED_TEST(SnapshotTest, PublishedIsTheLastPublishedVersion) {
  // Nothing is published before the first publish or commit (a pool's writable open commits: the empty
  // store is then its published version).
  EXPECT_EQ(this->db().published().len(), 0U);
  if (!TypeParam::durable) {
    EXPECT_FALSE(this->db().published().valid());
  }
  for (int i = 0; i < 500; ++i) this->put("key/" + std::to_string(i), "v0");
  ASSERT_TRUE(this->db().publish());
  const model first = this->model_;
  const snapshot v1 = this->db().published();
  for (int i = 0; i < 500; i += 2) this->put("key/" + std::to_string(i), "v1");
  expect_snapshot(this->db().published(), first);
  ASSERT_TRUE(this->db().publish());
  expect_snapshot(this->db().published(), this->model_);
  expect_snapshot(v1, first);  // a reader's handle keeps its version
  if (TypeParam::durable) {
    // A durable store publishes each commit by itself.
    this->put("after", "commit");
    ASSERT_TRUE(this->db().checkpoint());
    expect_snapshot(this->db().published(), this->model_);
  }
}

// ---- Durable stores ----

template <class Kind>
class DurableSnapshotTest : public SnapshotTest<Kind> {};
TYPED_TEST_SUITE(DurableSnapshotTest, test::durable_kinds, kind_names);

TYPED_TEST(DurableSnapshotTest, ARestoreIsDurableAndLaterLoggedWritesFollowIt) {
  for (int i = 0; i < 500; ++i) this->put("key/" + std::to_string(i), "base");
  const snapshot snap = this->take();
  const model base = this->model_;
  for (int i = 0; i < 500; i += 2) this->put("key/" + std::to_string(i), "changed");
  ASSERT_TRUE(this->db().restore(snap));
  this->model_ = base;
  this->put("after", "restore");
  ASSERT_TRUE(this->db().flush());  // the write after the restore is durable through the log
  test::crash(std::move(this->store_));
  this->store_ = this->open();
  ASSERT_TRUE(this->store_);
  test::expect_contents(this->db(), this->model_);
}

TYPED_TEST(DurableSnapshotTest, CloseWithSnapshotsAliveLeavesAHealthyStore) {
  for (int i = 0; i < 800; ++i) this->put("key/" + std::to_string(i), "v0");
  const snapshot snap = this->take();
  for (int i = 0; i < 800; ++i) this->put("key/" + std::to_string(i), "v1");
  ASSERT_TRUE(this->db().close());
  expect_snapshot(snap, [&] {
    model m;
    for (int i = 0; i < 800; ++i) m["key/" + std::to_string(i)] = "v0";
    return m;
  }());
  this->store_.reset();
  this->store_ = this->open();
  ASSERT_TRUE(this->store_);
  test::expect_contents(this->db(), this->model_);
  ASSERT_TRUE(this->db().close());
  this->store_.reset();
  const auto report = check_store(this->dir_);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
}

// The snapshot's writes were never committed before later writes replaced them; the restore's commit must
// seal and persist them. Power-loss mode: only what the protocol made durable reaches the file.
TEST(MmapSnapshotTest, RestoringUncommittedWritesMakesThemDurable) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("store");
  options o = test::durable_options(durability::none, /*power_loss=*/true);
  model restored;
  {
    auto s = test::must_open(dir, o);
    ASSERT_TRUE(s);
    for (int i = 0; i < 400; ++i) ASSERT_TRUE(s->put_string("key/" + std::to_string(i), "committed"));
    ASSERT_TRUE(s->checkpoint());
    for (int i = 0; i < 400; i += 2) ASSERT_TRUE(s->put_string("key/" + std::to_string(i), "uncommitted"));
    auto snap = s->snapshot();
    ASSERT_TRUE(snap.has_value());
    for (int i = 0; i < 400; ++i) restored["key/" + std::to_string(i)] = i % 2 == 0 ? "uncommitted" : "committed";
    for (int i = 0; i < 400; ++i) ASSERT_TRUE(s->put_string("key/" + std::to_string(i), "replaced"));
    ASSERT_TRUE(s->checkpoint());  // commits a tree without the snapshot's new leaves
    ASSERT_TRUE(s->restore(*snap));
    test::crash(std::move(s));
  }
  o.verify_checksums_on_open = true;
  auto s = test::must_open(dir, o);
  ASSERT_TRUE(s);
  test::expect_contents(*s, restored);
  ASSERT_TRUE(s->close());
  s.reset();
  const auto report = check_store(dir);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
}

}  // namespace
}  // namespace tessel
