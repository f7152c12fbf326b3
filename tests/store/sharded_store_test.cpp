// Sharded stores: keys land on the shard the router names and read back; a merged cursor yields every key
// once, in order, from any seek; hash tags keep related keys on one shard; a durable sharded store reopens
// with its recorded shard count and rule, and a damaged or missing manifest or shard, an unfinished
// creation and conflicting options are typed errors; snapshots are one cut even while writers run.
#include "tessel/sharded_store.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "numa/binding.hpp"
#include "store/cross_shard_batch.hpp"
#include "store/shard_manifest.hpp"
#include "store/store_impl.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using test::model;

std::unique_ptr<sharded_store> dram(std::uint32_t shards, routing rule = routing::whole_key) {
  auto s = sharded_store::open(options{}, {shards, rule, 1});
  EXPECT_TRUE(s.has_value()) << s.error().to_string();
  return s ? std::move(*s) : nullptr;
}

/// Every entry a merged cursor yields from `seek` on (all when empty).
test::pairs merged(merged_cursor c, const std::string& from = {}) {
  test::pairs out;
  if (from.empty()) {
    c.seek_to_first();
  } else {
    c.seek(as_bytes(from));
  }
  for (; c.valid(); c.next()) out.emplace_back(to_string(c.key()), to_string(c.value()));
  return out;
}

/// Every entry a merged cursor yields names the shard the router gives its key.
void expect_shards_named(const sharded_store& s) {
  merged_cursor c = s.new_cursor();
  for (c.seek_to_first(); c.valid(); c.next()) ASSERT_EQ(c.shard(), s.shard_of(c.key())) << to_string(c.key());
}

TEST(ShardedStoreTest, KeysLandOnTheirShardAndMergeInOrder) {
  auto s = dram(5);
  ASSERT_TRUE(s);
  model m;
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "key/" + std::to_string(i * 7919 % 5000);
    ASSERT_TRUE(s->put(as_bytes(k), as_bytes("v" + std::to_string(i))));
    m[k] = "v" + std::to_string(i);
  }
  ASSERT_TRUE(s->erase(as_bytes(std::string("key/42"))).value());
  m.erase("key/42");
  EXPECT_EQ(s->len(), m.size());
  std::vector<std::size_t> per_shard(5, 0);
  for (const auto& [k, v] : m) {
    const std::uint32_t home = s->shard_of(as_bytes(k));
    EXPECT_TRUE(s->shard(home).contains(as_bytes(k))) << k;
    ++per_shard[home];
    EXPECT_EQ(to_string(*s->get(as_bytes(k))), v);
  }
  for (const std::size_t n : per_shard) EXPECT_GT(n, 800U) << "keys spread over every shard";
  EXPECT_TRUE(merged(s->new_cursor()) == test::as_pairs(m));
  expect_shards_named(*s);
  const test::pairs tail = merged(s->new_cursor(), "key/5");
  EXPECT_TRUE(tail == test::pairs(m.lower_bound("key/5"), m.end()));
  EXPECT_TRUE(merged(s->new_cursor(), "zzz").empty());
  // A prefix seek ends with the prefix in every shard's cursor.
  merged_cursor c = s->new_cursor();
  test::pairs in_prefix;
  for (c.seek_in_prefix(as_bytes(std::string("key/12"))); c.valid(); c.next()) {
    in_prefix.emplace_back(to_string(c.key()), to_string(c.value()));
  }
  test::pairs expected;
  for (auto it = m.lower_bound("key/12"); it != m.end() && it->first.starts_with("key/12"); ++it)
    expected.push_back(*it);
  EXPECT_EQ(in_prefix.size(), 111U);  // key/12, key/120..129, key/1200..1299
  EXPECT_TRUE(in_prefix == expected);
}

TEST(ShardedStoreTest, HashTagsKeepRelatedKeysTogether) {
  auto s = dram(8, routing::hash_tag);
  ASSERT_TRUE(s);
  for (const char* k : {"user:{42}:cart", "user:{42}:profile", "order:{42}"}) {
    ASSERT_TRUE(s->put(as_bytes(std::string(k)), as_bytes(std::string("x"))));
    EXPECT_EQ(s->shard_of(as_bytes(std::string(k))), s->shard_of(as_bytes(std::string("{42}")))) << k;
  }
  EXPECT_EQ(s->shard(s->shard_of(as_bytes(std::string("{42}")))).len(), 3U);
}

class DurableShardedStoreTest : public ::testing::Test {
 protected:
  result<std::unique_ptr<sharded_store>> open(shard_options so = {},
                                              options o = test::durable_options(durability::none)) {
    return sharded_store::open(dir_, o, so);
  }
  std::filesystem::path manifest() const { return std::filesystem::path(dir_) / detail::shard_manifest_file_name; }
  void make(std::uint32_t shards) {
    auto s = open({shards, routing::path_components, 2});
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    for (int i = 0; i < 600; ++i) {
      const std::string k = "/tenants/t" + std::to_string(i % 9) + "/jobs/" + std::to_string(i);
      ASSERT_TRUE((*s)->put(as_bytes(k), as_bytes(k + "!")));
      model_[k] = k + "!";
    }
    ASSERT_TRUE((*s)->close());
  }
  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("sharded");
  model model_;
};

TEST_F(DurableShardedStoreTest, ReopensWithItsRecordedShardsAndRule) {
  make(3);
  auto s = open();  // shards 0: whatever the store has
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ((*s)->shards(), 3U);
  EXPECT_TRUE(merged((*s)->new_cursor()) == test::as_pairs(model_));
  // Routed by the first two path components: one tenant's jobs share a shard.
  const std::uint32_t home = (*s)->shard_of(as_bytes(std::string("/tenants/t4")));
  for (const auto& [k, v] : model_) {
    if (k.starts_with("/tenants/t4/")) {
      EXPECT_EQ((*s)->shard_of(as_bytes(k)), home) << k;
    }
  }
  EXPECT_EQ((*s)->shard(home).get_string("/tenants/t4/jobs/4").value_or("?"), "/tenants/t4/jobs/4!");
}

TEST_F(DurableShardedStoreTest, ConflictingOptionsAndMissingStoresAreTypedErrors) {
  options existing = test::durable_options(durability::none);
  existing.mode = open_mode::open_existing;
  auto none = open({}, existing);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), errc::not_found);
  make(3);
  auto other_count = open({5, routing::path_components, 2});
  ASSERT_FALSE(other_count.has_value());
  EXPECT_EQ(other_count.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(other_count.error().message()), ::testing::HasSubstr("3 shards"));
  auto other_rule = open({3, routing::whole_key, 1});
  ASSERT_FALSE(other_rule.has_value());
  EXPECT_EQ(other_rule.error().code(), errc::invalid_argument);
  options create_new = test::durable_options(durability::none);
  create_new.mode = open_mode::create_new;
  EXPECT_EQ(open({}, create_new).error().code(), errc::invalid_argument);
}

TEST_F(DurableShardedStoreTest, DamageIsRefusedAtOpen) {
  make(3);
  test::flip_byte(manifest(), 13);
  auto flipped = open();
  ASSERT_FALSE(flipped.has_value());
  EXPECT_EQ(flipped.error().code(), errc::corruption);
  std::filesystem::resize_file(manifest(), 20);
  EXPECT_EQ(open().error().code(), errc::corruption);
  // A missing shard is named, never recreated empty.
  detail::shard_manifest m{3, {detail::routing_kind::path_components, 2}, {}};
  ASSERT_TRUE(detail::write_shard_manifest(dir_, m, 0600));
  std::filesystem::remove_all(std::filesystem::path(dir_) / detail::shard_directory_name(1));
  auto missing = open();
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), errc::not_found);
  EXPECT_THAT(std::string(missing.error().message()), ::testing::HasSubstr("shard 1"));
  // Shards without a manifest: a creation that did not finish (nothing was acknowledged). Opening an
  // existing store finds none; creating removes the leftovers and starts over.
  std::filesystem::remove(manifest());
  options existing = test::durable_options(durability::none);
  existing.mode = open_mode::open_existing;
  EXPECT_EQ(open({}, existing).error().code(), errc::not_found);
  auto fresh = open({2, routing::whole_key, 1});
  ASSERT_TRUE(fresh.has_value()) << fresh.error().to_string();
  EXPECT_EQ((*fresh)->shards(), 2U);
  EXPECT_EQ((*fresh)->len(), 0U);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir_) / detail::shard_directory_name(2)));
}

TEST(ShardedManifestTest, EncodeDecodeRoundTrip) {
  const detail::shard_manifest m{12, {detail::routing_kind::hash_tag, 0}, {9, 8, 7}};
  const std::string bytes = detail::encode_shard_manifest(m);
  auto back = detail::decode_shard_manifest(as_bytes(bytes), "manifest");
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(*back, m);
}

// Writers on two threads each write a pair of keys on different shards, first then second, with the same
// counter; a cut must never hold a pair whose second key is ahead of its first.
TEST(ShardedStoreConcurrencyTest, SnapshotsAreOneCutWhileWritersRun) {
  auto s = dram(4);
  ASSERT_TRUE(s);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int t = 0; t < 2; ++t) {
    std::string first = "t" + std::to_string(t) + "/a";
    std::string second;
    for (int i = 0; second.empty(); ++i) {
      std::string candidate = "t" + std::to_string(t) + "/b" + std::to_string(i);
      if (s->shard_of(as_bytes(candidate)) != s->shard_of(as_bytes(first))) second = candidate;
    }
    pairs.emplace_back(first, second);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (std::size_t t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      for (std::uint64_t n = 1; !stop.load(std::memory_order_relaxed); ++n) {
        ASSERT_TRUE(s->put(as_bytes(pairs[t].first), as_bytes(std::to_string(n))));
        ASSERT_TRUE(s->put(as_bytes(pairs[t].second), as_bytes(std::to_string(n))));
      }
    });
  }
  for (int round = 0; round < 300; ++round) {
    auto cut = s->snapshot();
    ASSERT_TRUE(cut.has_value());
    for (const auto& [first, second] : pairs) {
      auto counter = [&](const std::string& key) -> std::uint64_t {
        auto v = cut->get(as_bytes(key));
        return v ? std::stoull(to_string(*v)) : 0;
      };
      const std::uint64_t a = counter(first);
      const std::uint64_t b = counter(second);
      ASSERT_TRUE(b == a || b + 1 == a) << first << "=" << a << " " << second << "=" << b;
    }
  }
  stop = true;
  for (std::thread& w : writers) w.join();
}

// Every shard's region carries its node's memory policy: on this 1-node host, node 0's OS index.
TEST(ShardedStoreTest, ShardRegionsAreBoundToTheirNodes) {
  auto s = dram(2);
  ASSERT_TRUE(s);
  auto topo = numa::topology::detect();
  ASSERT_TRUE(topo.has_value());
  auto plan = numa::plan_placement(*topo, 2);
  ASSERT_TRUE(plan.has_value());
  for (std::uint32_t i = 0; i < 2; ++i) {
    std::byte* base = detail::store_access::impl(s->shard(i)).mapped()->base();
    auto nodes = numa::bound_nodes(*topo, base, 4096);
    if (!nodes && nodes.error().code() == errc::not_supported) GTEST_SKIP() << nodes.error().to_string();
    ASSERT_TRUE(nodes.has_value()) << nodes.error().to_string();
    EXPECT_THAT(*nodes, ::testing::ElementsAre(plan->shards[i].node_os_index)) << "shard " << i;
  }
}

// ---- Cross-shard batches ----

shard_options workers(std::uint32_t shards);

/// Keys on three different shards of `s`.
std::vector<std::string> keys_on_distinct_shards(const sharded_store& s, std::size_t n) {
  std::vector<std::string> keys;
  std::vector<bool> used(s.shards(), false);
  for (int i = 0; keys.size() < n; ++i) {
    const std::string k = "acct/" + std::to_string(i);
    const std::uint32_t home = s.shard_of(as_bytes(k));
    if (used[home]) continue;
    used[home] = true;
    keys.push_back(k);
  }
  return keys;
}

std::vector<write_op> set_all(const std::vector<std::string>& keys, std::uint64_t n) {
  std::vector<write_op> ops;
  for (const std::string& k : keys) ops.push_back({false, k, std::to_string(n)});
  return ops;
}

TEST(ShardedBatchTest, ABatchIsWholeInEveryCutWhileWritersRun) {
  auto s = dram(4);
  ASSERT_TRUE(s);
  const std::vector<std::string> keys = keys_on_distinct_shards(*s, 3);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t n = 1; !stop.load(std::memory_order_relaxed); ++n) ASSERT_TRUE(s->write_batch(set_all(keys, n)));
  });
  for (int round = 0; round < 200; ++round) {
    auto cut = s->snapshot();
    ASSERT_TRUE(cut.has_value());
    std::set<std::string> values;
    for (const std::string& k : keys) {
      auto v = cut->get(as_bytes(k));
      values.insert(v ? to_string(*v) : "none");
    }
    ASSERT_EQ(values.size(), 1U) << "a cut shows part of a batch";
  }
  stop = true;
  writer.join();
}

TEST(ShardedBatchTest, DurableBatchesSurviveReopenAndBadBatchesChangeNothing) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("sharded");
  std::vector<std::string> keys;
  {
    auto s = sharded_store::open(dir, test::durable_options(durability::none), {3, routing::whole_key, 1});
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    keys = keys_on_distinct_shards(**s, 3);
    for (std::uint64_t n = 1; n <= 50; ++n) ASSERT_TRUE((*s)->write_batch(set_all(keys, n)));
    std::vector<write_op> bad = set_all(keys, 99);
    bad.push_back({false, std::string(max_key_size + 1, 'k'), "v"});
    EXPECT_EQ((*s)->write_batch(bad).error().code(), errc::invalid_argument);
    const std::vector<write_op> reserved{{false, std::string(detail::batch_marker_key), "x"}};
    EXPECT_EQ((*s)->write_batch(reserved).error().code(), errc::invalid_argument);
    ASSERT_TRUE((*s)->write_batch({{true, keys[0], ""}, {false, keys[1], "51"}}));
  }
  auto s = sharded_store::open(dir, test::durable_options(durability::none), {});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_FALSE((*s)->contains(as_bytes(keys[0])));
  EXPECT_EQ((*s)->get_string(as_bytes(keys[1])).value_or("?"), "51");
  EXPECT_EQ((*s)->get_string(as_bytes(keys[2])).value_or("?"), "50");
}

// Every involved shard makes room for its part before anything is applied (before the commit point, in a
// durable store): a batch one shard has no room for is no_space, and no shard took any of it.
TEST(ShardedBatchTest, ABatchAShardHasNoRoomForIsNoSpaceEverywhere) {
  options o;
  o.reserve_bytes = 4u << 20;  // each dram shard's region
  auto s = sharded_store::open(o, {3, routing::whole_key, 1});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  const std::vector<std::string> keys = keys_on_distinct_shards(**s, 3);
  ASSERT_TRUE((*s)->write_batch(set_all(keys, 1)));
  std::vector<write_op> too_big = set_all(keys, 2);
  for (int i = 0; too_big.size() < 3 + 24; ++i) {
    std::string k = keys[2] + "/" + std::to_string(i);
    if ((*s)->shard_of(as_bytes(k)) == (*s)->shard_of(as_bytes(keys[2]))) {
      too_big.push_back({false, std::move(k), std::string(256 * 1024, 'v')});
    }
  }
  auto failed = (*s)->write_batch(too_big);
  ASSERT_FALSE(failed) << "24 values of 256 KiB fit a 4 MiB shard";
  EXPECT_EQ(failed.error().code(), errc::no_space) << failed.error().to_string();
  for (const std::string& k : keys) EXPECT_EQ((*s)->get_string(as_bytes(k)).value_or("?"), "1") << k;
  EXPECT_EQ((*s)->len(), 3U);
  ASSERT_TRUE((*s)->write_batch(set_all(keys, 3))) << "the store refused batches after a no_space";
}

// transact holds only the shards of the keys it names: reading or writing a key of another shard is
// invalid_argument, and nothing is written; a decision's own error is returned as it is.
TEST(ShardedBatchTest, TransactStaysInTheShardsItNamed) {
  auto s = sharded_store::open(options{}, {3, routing::whole_key, 1});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  const std::vector<std::string> keys = keys_on_distinct_shards(**s, 2);
  const std::vector<key_view> named{as_bytes(keys[0])};
  std::vector<write_op> ops;
  auto read_other = (*s)->transact(
      named, ops,
      [&](const batch_reader& r, std::vector<write_op>&) -> result<void> {
        auto v = r.get(as_bytes(keys[1]));
        return v || v.error().code() == errc::not_found ? result<void>{} : tl::unexpected(v.error());
      },
      [] {});
  ASSERT_FALSE(read_other.has_value());
  EXPECT_EQ(read_other.error().code(), errc::invalid_argument) << read_other.error().to_string();
  bool applied = false;
  auto write_other = (*s)->transact(
      named, ops,
      [&](const batch_reader&, std::vector<write_op>& w) -> result<void> {
        w = {{false, keys[0], "mine"}, {false, keys[1], "not mine"}};
        return {};
      },
      [&] { applied = true; });
  ASSERT_FALSE(write_other.has_value());
  EXPECT_EQ(write_other.error().code(), errc::invalid_argument) << write_other.error().to_string();
  EXPECT_FALSE(applied);
  EXPECT_FALSE((*s)->contains(as_bytes(keys[0])));
  EXPECT_FALSE((*s)->contains(as_bytes(keys[1])));
  auto refused = (*s)->transact(
      named, ops,
      [](const batch_reader&, std::vector<write_op>&) -> result<void> {
        return make_error(errc::conflict, "the decision's own");
      },
      [&] { applied = true; });
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), errc::conflict);
  EXPECT_FALSE(applied);
}

// Worker mode: a batch is applied between the workers' own batches and published before it returns.
TEST(ShardedBatchTest, WorkerModeAppliesAndPublishesBatches) {
  test::temp_dir tmp;
  shard_options w = workers(3);
  auto s = sharded_store::open(tmp.sub("sharded"), test::durable_options(durability::log), w);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  const std::vector<std::string> keys = keys_on_distinct_shards(**s, 3);
  ASSERT_TRUE((*s)->put(as_bytes(keys[0]), as_bytes("0")));
  ASSERT_TRUE((*s)->write_batch(set_all(keys, 7)));
  for (const std::string& k : keys) EXPECT_EQ((*s)->published().get(as_bytes(k)).has_value(), true) << k;
  for (const std::string& k : keys) EXPECT_EQ((*s)->get_string(as_bytes(k)).value_or("?"), "7") << k;
  ASSERT_TRUE((*s)->write_batch({{true, keys[0], ""}}));
  EXPECT_FALSE((*s)->contains(as_bytes(keys[0])));
  // Two writes of one shard: one record of its log, durable and published when the call returns.
  const std::uint32_t shard = (*s)->shard_of(as_bytes(keys[1]));
  std::string sibling;
  for (int i = 0; sibling.empty(); ++i) {
    const std::string k = keys[1] + "/" + std::to_string(i);
    if ((*s)->shard_of(as_bytes(k)) == shard) sibling = k;
  }
  const oplog::log_writer& log = *detail::store_access::impl((*s)->shard(shard)).durable()->log;
  const std::uint64_t seq_before = log.last_seq();
  ASSERT_TRUE((*s)->write_batch({{false, keys[1], "8"}, {false, sibling, "8"}}));
  EXPECT_EQ(log.last_seq(), seq_before + 1);
  EXPECT_EQ(log.durable_seq(), log.last_seq()) << "published before it was durable";
  EXPECT_EQ(to_string((*s)->published().get(as_bytes(sibling)).value_or(as_bytes("?"))), "8");
  EXPECT_EQ(to_string((*s)->published().get(as_bytes(keys[1])).value_or(as_bytes("?"))), "8");
  ASSERT_TRUE((*s)->close());
  s->reset();  // releases the store's lock
  auto again = sharded_store::open(tmp.sub("sharded"), test::durable_options(durability::log), w);
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_FALSE((*again)->contains(as_bytes(keys[0])));
  EXPECT_EQ((*again)->get_string(as_bytes(keys[1])).value_or("?"), "8");
  EXPECT_EQ((*again)->get_string(as_bytes(sibling)).value_or("?"), "8");
}

// An mmap shard's file grows by new mappings; each is bound as it is mapped.
TEST(ShardedStoreTest, FileShardsBindWhatTheyMapAsTheyGrow) {
  test::temp_dir tmp;
  auto s = sharded_store::open(tmp.sub("sharded"), test::durable_options(durability::none), {1, routing::whole_key, 1});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  const mmap::mapped_region& region = *detail::store_access::impl((*s)->shard(0)).mapped();
  const std::uint64_t before = region.file_size();
  const std::string value(1000, 'v');
  for (int i = 0; region.file_size() < before + (8 << 20); ++i) {
    ASSERT_TRUE((*s)->put(as_bytes("key/" + std::to_string(i)), as_bytes(value)));
  }
  auto topo = numa::topology::detect();
  ASSERT_TRUE(topo.has_value());
  std::byte* last_page = region.base() + region.file_size() - 4096;
  auto nodes = numa::bound_nodes(*topo, last_page, 4096);
  if (!nodes && nodes.error().code() == errc::not_supported) GTEST_SKIP() << nodes.error().to_string();
  ASSERT_TRUE(nodes.has_value()) << nodes.error().to_string();
  EXPECT_EQ(nodes->size(), 1U) << "the range mapped last carries the shard's binding";
}

// ---- Worker mode ----

shard_options workers(std::uint32_t shards) {
  shard_options so{shards, routing::whole_key, 1};
  so.mode = shard_mode::workers;
  so.queue_capacity = 64;  // small, so writers also wait for room
  return so;
}

TEST(ShardedWorkerTest, WritesFromManyThreadsLandAndAreVisibleWhenAcknowledged) {
  auto opened = sharded_store::open(options{}, workers(3));
  ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
  sharded_store& s = **opened;
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      std::vector<std::future<result<void>>> pending;
      for (int i = 0; i < 500; ++i) {
        const std::string k = "t" + std::to_string(t) + "/" + std::to_string(i);
        if (i % 2 == 0) {
          pending.push_back(s.put_async(as_bytes(k), as_bytes(k)));
          continue;
        }
        ASSERT_TRUE(s.put(as_bytes(k), as_bytes(k)));
        // Acknowledged: a read started now sees it.
        EXPECT_EQ(s.get_string(as_bytes(k)).value_or("?"), k);
      }
      for (auto& f : pending) ASSERT_TRUE(f.get());
    });
  }
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(s.len(), 2000U);
  ASSERT_TRUE(s.erase(as_bytes(std::string("t0/0"))).value());
  EXPECT_FALSE(s.contains(as_bytes(std::string("t0/0"))));
  EXPECT_EQ(s.get(as_bytes(std::string("t1/1"))).error().code(), errc::not_supported);
  auto cut = s.snapshot();
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->len(), 1999U);
  test::pairs all = merged(cut->new_cursor());
  ASSERT_EQ(all.size(), 1999U);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  ASSERT_TRUE(s.close());
}

TEST(ShardedWorkerTest, CompactRunsBetweenBatchesAndKeepsEveryEntry) {
  for (const shard_mode mode : {shard_mode::inline_calls, shard_mode::workers}) {
    shard_options so = workers(3);
    so.mode = mode;
    auto opened = sharded_store::open(options{}, so);
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    sharded_store& s = **opened;
    test::pairs want;
    for (int i = 0; i < 3000; ++i) {
      const std::string k = "/c/" + std::to_string(i * 7919 % 3000);
      ASSERT_TRUE(s.put(as_bytes(k), as_bytes(k)));
      want.emplace_back(k, k);
    }
    std::sort(want.begin(), want.end());
    // A writer keeps going while the shards compact: its writes wait for each shard's lock, none is lost.
    std::thread writer([&] {
      for (int i = 0; i < 300; ++i) {
        const std::string k = "/w/" + std::to_string(i);
        ASSERT_TRUE(s.put(as_bytes(k), as_bytes(k)));
      }
    });
    ASSERT_TRUE(s.compact());
    writer.join();
    for (int i = 0; i < 300; ++i) {
      const std::string k = "/w/" + std::to_string(i);
      want.emplace_back(k, k);
    }
    std::sort(want.begin(), want.end());
    auto cut = s.snapshot();
    ASSERT_TRUE(cut.has_value());
    EXPECT_EQ(merged(cut->new_cursor()), want) << (mode == shard_mode::workers ? "workers" : "inline");
    ASSERT_TRUE(s.close());
  }
}

TEST(ShardedWorkerTest, SnapshotsAreOneCutWhileWorkersApply) {
  auto opened = sharded_store::open(options{}, workers(4));
  ASSERT_TRUE(opened.has_value());
  sharded_store& s = **opened;
  const std::string first = "a";
  std::string second;
  for (int i = 0; second.empty(); ++i) {
    const std::string c = "b" + std::to_string(i);
    if (s.shard_of(as_bytes(c)) != s.shard_of(as_bytes(first))) second = c;
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t n = 1; !stop.load(std::memory_order_relaxed); ++n) {
      ASSERT_TRUE(s.put(as_bytes(first), as_bytes(std::to_string(n))));
      ASSERT_TRUE(s.put(as_bytes(second), as_bytes(std::to_string(n))));
    }
  });
  for (int round = 0; round < 200; ++round) {
    auto cut = s.snapshot();
    ASSERT_TRUE(cut.has_value());
    auto counter = [&](const std::string& key) -> std::uint64_t {
      auto v = cut->get(as_bytes(key));
      return v ? std::stoull(to_string(*v)) : 0;
    };
    const std::uint64_t a = counter(first);
    const std::uint64_t b = counter(second);
    ASSERT_TRUE(b == a || b + 1 == a) << a << " " << b;
  }
  stop = true;
  writer.join();
}

TEST(ShardedWorkerTest, DurableWorkersWritesSurviveReopen) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("sharded");
  model m;
  {
    auto opened = sharded_store::open(dir, test::durable_options(durability::log), workers(2));
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    std::vector<std::future<result<void>>> pending;
    for (int i = 0; i < 300; ++i) {
      const std::string k = "k" + std::to_string(i);
      pending.push_back((*opened)->put_async(as_bytes(k), as_bytes(k + "v")));
      m[k] = k + "v";
    }
    for (auto& f : pending) ASSERT_TRUE(f.get());
    opened->reset();
  }
  auto again = sharded_store::open(dir, test::durable_options(durability::log), {});
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_TRUE(merged((*again)->new_cursor()) == test::as_pairs(m));
}

}  // namespace
}  // namespace tessel
