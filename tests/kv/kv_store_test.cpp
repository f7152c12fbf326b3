// The versioned KV layer's single-key semantics (univrs-state's, ../shared/seeds/003) over every store
// configuration: versions, timestamps, compare-and-set, create-if-absent, erase, lists and scans, typed
// and JSON access, the async facade, and what a reopen keeps.
#include "tessel/kv_store.hpp"

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/kv_codec.hpp"
#include "tessel/kv_json.hpp"
#include "tessel/limits.hpp"

#include "common/wall_clock.hpp"
#include "tests/kv/kv_test_support.hpp"

namespace tessel {
namespace {

using KvStoreTest = test::kv_test;
// Reopens, read-only opens and the kv meta record: the configurations whose store outlives a close.
using KvDurableStoreTest = test::kv_test;

TEST_P(KvStoreTest, VersionsStartAtOneAndRiseByOnePerWrite) {
  EXPECT_EQ(kv_->version("/config"), 0U);
  EXPECT_EQ(kv_->set("/config", "v1"), 1U);
  EXPECT_EQ(kv_->set("/config", "v2"), 2U);
  EXPECT_EQ(kv_->set("/config", "v3"), 3U);
  EXPECT_EQ(kv_->version("/config"), 3U);
  auto e = kv_->get("/config");
  ASSERT_TRUE(e.has_value()) << e.error().to_string();
  EXPECT_EQ(e->value, "v3");
  EXPECT_EQ(e->version, 3U);
  EXPECT_EQ(kv_->exists("/config"), true);
  EXPECT_EQ(kv_->exists("/other"), false);
}

TEST_P(KvStoreTest, TimestampsMarkCreationAndLastUpdate) {
  const std::uint64_t before = unix_time_ns();
  ASSERT_TRUE(kv_->set("/t", "a"));
  const auto first = kv_->get("/t");
  ASSERT_TRUE(first.has_value());
  EXPECT_GE(first->created_at_ns, before);
  EXPECT_EQ(first->created_at_ns, first->updated_at_ns);
  ASSERT_TRUE(kv_->set("/t", "b"));
  const auto second = kv_->get("/t");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->created_at_ns, first->created_at_ns) << "an update keeps the creation time";
  EXPECT_GE(second->updated_at_ns, first->updated_at_ns);
  EXPECT_LE(second->updated_at_ns, unix_time_ns());
}

TEST_P(KvStoreTest, GetOfAMissingKeyIsNotFound) {
  auto e = kv_->get("/missing");
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code(), errc::not_found);
}

TEST_P(KvStoreTest, GetIntoABufferReusesIt) {
  ASSERT_TRUE(kv_->set("/a", std::string(100, 'x')));
  std::string buffer = "old contents";
  auto e = kv_->get("/a", buffer);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(buffer, std::string(100, 'x'));
  EXPECT_EQ(e->version, 1U);
  EXPECT_TRUE(e->value.empty()) << "the value went to the buffer";
}

TEST_P(KvStoreTest, BinaryValuesRoundTrip) {
  const std::string value("\0\xFF\x01zero\0", 8);
  ASSERT_TRUE(kv_->set("/bin", value));
  EXPECT_EQ(kv_->get("/bin")->value, value);
  ASSERT_TRUE(kv_->set("/empty", ""));
  EXPECT_EQ(kv_->get("/empty")->value, "");
  EXPECT_EQ(kv_->get("/empty")->version, 1U);
}

TEST_P(KvStoreTest, CompareAndSetSucceedsOnTheCurrentVersion) {
  ASSERT_EQ(kv_->set("/config", "v1"), 1U);
  ASSERT_EQ(kv_->set("/config", "v2"), 2U);
  EXPECT_EQ(kv_->compare_and_set("/config", 2, "v3"), 3U);
  EXPECT_EQ(kv_->get("/config")->value, "v3");
}

TEST_P(KvStoreTest, CompareAndSetConflictCarriesExpectedAndFound) {
  ASSERT_EQ(kv_->set("/config", "v1"), 1U);
  auto v = kv_->compare_and_set("/config", 5, "nope");
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), errc::conflict);
  ASSERT_NE(v.error().conflict(), nullptr);
  EXPECT_EQ(v.error().conflict()->expected, 5U);
  EXPECT_EQ(v.error().conflict()->found, 1U);
  EXPECT_EQ(v.error().conflict()->key, "/config");
  EXPECT_NE(v.error().message().find("expected version 5, found 1"), std::string_view::npos) << v.error().message();
  EXPECT_EQ(kv_->get("/config")->value, "v1") << "a failed CAS writes nothing";
  EXPECT_EQ(kv_->version("/config"), 1U);
}

TEST_P(KvStoreTest, CompareAndSetWithVersionZeroCreatesOnlyAMissingKey) {
  EXPECT_EQ(kv_->compare_and_set("/new", 0, "a"), 1U);
  auto again = kv_->compare_and_set("/new", 0, "b");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().conflict()->found, 1U);
  auto missing = kv_->compare_and_set("/absent", 3, "c");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().conflict()->found, 0U);
  EXPECT_EQ(kv_->exists("/absent"), false);
}

TEST_P(KvStoreTest, CreateIfNotExistsCreatesOnce) {
  EXPECT_EQ(kv_->create_if_not_exists("/lock", "owner-a"), true);
  EXPECT_EQ(kv_->create_if_not_exists("/lock", "owner-b"), false);
  EXPECT_EQ(kv_->get("/lock")->value, "owner-a");
  EXPECT_EQ(kv_->version("/lock"), 1U);
}

TEST_P(KvStoreTest, EraseReturnsTheRemovedVersionAndRestartsVersions) {
  ASSERT_TRUE(kv_->set("/k", "a"));
  ASSERT_TRUE(kv_->set("/k", "b"));
  EXPECT_EQ(kv_->erase("/k"), 2U);
  EXPECT_EQ(kv_->erase("/k"), 0U) << "erasing a missing key removes nothing";
  EXPECT_EQ(kv_->version("/k"), 0U);
  EXPECT_EQ(kv_->set("/k", "c"), 1U) << "a key made again starts at version 1";
}

TEST_P(KvStoreTest, InvalidKeysAreRefusedByEveryCall) {
  for (const std::string& bad :
       std::vector<std::string>{"", "relative/key", "/a//b", "/trailing/", "/", "/a/../b", "/a/./b",
                                std::string("/nul\0byte", 9), "/" + std::string(300, 's')}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(kv_->set(bad, "v").error().code(), errc::invalid_argument);
    EXPECT_EQ(kv_->get(bad).error().code(), errc::invalid_argument);
    EXPECT_EQ(kv_->erase(bad).error().code(), errc::invalid_argument);
    EXPECT_EQ(kv_->compare_and_set(bad, 0, "v").error().code(), errc::invalid_argument);
    EXPECT_EQ(kv_->version(bad).error().code(), errc::invalid_argument);
  }
  EXPECT_EQ(kv_->list("").value().size(), 0U) << "nothing was written";
}

TEST_P(KvStoreTest, AValueOverTheLimitIsRefusedAndWritesNothing) {
  // The store's value limit holds the 24-byte entry header too.
  const std::string too_big(max_value_size - 23, 'v');
  auto set = kv_->set("/big", too_big);
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().code(), errc::invalid_argument);
  EXPECT_NE(set.error().message().find("exceeds the limit"), std::string_view::npos) << set.error().message();
  auto txn = kv_->transaction({kv_op::set("/small", "v"), kv_op::set("/big", too_big)});
  ASSERT_FALSE(txn.has_value());
  EXPECT_EQ(txn.error().code(), errc::invalid_argument);
  EXPECT_NE(txn.error().message().find("op 1"), std::string_view::npos) << txn.error().message();
  EXPECT_EQ(kv_->exists("/small"), false);
  EXPECT_EQ(kv_->exists("/big"), false);
}

TEST_P(KvStoreTest, ListReturnsKeysUnderAPrefixInOrder) {
  for (const char* k :
       {"/workloads/b", "/workloads/a/instances/i1", "/workloads/a", "/workloadsx", "/nodes/n1", "/workloads/c"}) {
    ASSERT_TRUE(kv_->set(k, "v"));
  }
  EXPECT_EQ(kv_->list("/workloads/").value(),
            (std::vector<std::string>{"/workloads/a", "/workloads/a/instances/i1", "/workloads/b", "/workloads/c"}));
  EXPECT_EQ(kv_->list("/workloads/", 2).value(),
            (std::vector<std::string>{"/workloads/a", "/workloads/a/instances/i1"}));
  EXPECT_EQ(kv_->list("").value().size(), 6U) << "tessel's own records are not listed";
  EXPECT_TRUE(kv_->list("/none/").value().empty());
}

TEST_P(KvStoreTest, ScanVisitsEntriesWithTheirVersions) {
  ASSERT_TRUE(kv_->set("/s/a", "1"));
  ASSERT_TRUE(kv_->set("/s/b", "2"));
  ASSERT_TRUE(kv_->set("/s/b", "3"));
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  ASSERT_TRUE(kv_->scan("/s/", [&](std::string_view key, const kv_entry& e) {
    seen.emplace_back(std::string(key) + "=" + e.value, e.version);
    return true;
  }));
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::uint64_t>>{{"/s/a=1", 1}, {"/s/b=3", 2}}));
}

TEST_P(KvStoreTest, AValueWrittenAroundTheKvLayerReadsAsCorruption) {
  ASSERT_TRUE(kv_->engine().put(as_bytes("/raw"), as_bytes("short")));
  auto e = kv_->get("/raw");
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code(), errc::corruption);
  EXPECT_NE(e.error().message().find("/raw"), std::string_view::npos);
  EXPECT_EQ(kv_->set("/raw", "x").error().code(), errc::corruption) << "a write does not paper over it";
}

TEST_P(KvStoreTest, ByteKeysModeAcceptsAnyKeyOutsideTheReservedPrefix) {
  kv_options o;
  o.keys = key_rules::bytes;
  test::temp_dir other;
  auto kv = test::open_kv(GetParam(), other.sub("bytes"), o);
  ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
  const std::string binary("k\0ey", 4);
  EXPECT_EQ((*kv)->set(binary, "v"), 1U);
  EXPECT_EQ((*kv)->set("no-slash", "v"), 1U);
  EXPECT_EQ((*kv)->get(binary)->value, "v");
  EXPECT_EQ((*kv)->set("\xFF\xFFtessel/kv/meta", "v").error().code(), errc::invalid_argument);
  EXPECT_EQ((*kv)->set("", "v").error().code(), errc::invalid_argument);
}

struct point {
  int x = 0;
  int y = 0;
};
void to_json(nlohmann::json& j, const point& p) { j = {{"x", p.x}, {"y", p.y}}; }
void from_json(const nlohmann::json& j, point& p) {
  j.at("x").get_to(p.x);
  j.at("y").get_to(p.y);
}

TEST_P(KvStoreTest, JsonValuesRoundTrip) {
  EXPECT_EQ(set_json(*kv_, "/json/p", point{3, -4}), 1U);
  auto p = get_json<point>(*kv_, "/json/p");
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->value.x, 3);
  EXPECT_EQ(p->value.y, -4);
  EXPECT_EQ(p->version, 1U);
  ASSERT_TRUE(set_json(*kv_, "/json/doc", nlohmann::json{{"replicas", 3}, {"image", "app:1"}}));
  EXPECT_EQ(get_json(*kv_, "/json/doc")->value.at("replicas"), 3);
  ASSERT_TRUE(kv_->set("/json/bad", "{not json"));
  auto bad = get_json(*kv_, "/json/bad");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), errc::invalid_argument);
  EXPECT_NE(bad.error().message().find("/json/bad"), std::string_view::npos);
  EXPECT_EQ(get_json<point>(*kv_, "/json/doc").error().code(), errc::invalid_argument) << "wrong shape";
}

/// A codec of the user's own: a u32 as four little-endian bytes.
struct u32_codec {
  static std::string encode(std::uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }
  static result<std::uint32_t> decode(std::string_view bytes) noexcept {
    if (bytes.size() != sizeof(std::uint32_t)) return make_error(errc::invalid_argument, "not 4 bytes");
    std::uint32_t v = 0;
    std::memcpy(&v, bytes.data(), sizeof v);
    return v;
  }
};
static_assert(kv_codec<u32_codec, std::uint32_t>);

TEST_P(KvStoreTest, UserCodecsRoundTrip) {
  EXPECT_EQ(set_as<u32_codec>(*kv_, "/n", std::uint32_t{77}), 1U);
  EXPECT_EQ((get_as<std::uint32_t, u32_codec>(*kv_, "/n")->value), 77U);
  EXPECT_EQ(compare_and_set_as<u32_codec>(*kv_, "/n", 1, std::uint32_t{78}), 2U);
  ASSERT_TRUE(kv_->set("/n", "xyz"));
  EXPECT_EQ((get_as<std::uint32_t, u32_codec>(*kv_, "/n").error().code()), errc::invalid_argument);
}

TEST_P(KvStoreTest, AsyncCallsCompleteTheirFutures) {
  auto set = kv_->set_async("/async/a", "1");
  EXPECT_EQ(set.get(), 1U);
  EXPECT_EQ(kv_->compare_and_set_async("/async/a", 1, "2").get(), 2U);
  EXPECT_EQ(kv_->compare_and_set_async("/async/a", 1, "3").get().error().code(), errc::conflict);
  EXPECT_EQ(kv_->get_async("/async/a").get()->value, "2");
  EXPECT_EQ(kv_->transaction_async({kv_op::check_version("/async/a", 2), kv_op::set("/async/b", "x")}).get()->versions,
            (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(kv_->erase_async("/async/b").get(), 1U);
  std::promise<result<std::uint64_t>> called;
  kv_->set_async("/async/c", "v", [&](result<std::uint64_t> r) { called.set_value(std::move(r)); });
  EXPECT_EQ(called.get_future().get(), 1U);
}

/// A one-shard in-memory kv store whose async calls run on one thread, in the order they were made.
result<std::unique_ptr<kv_store>> open_with_one_async_thread() {
  shard_options s;
  s.shards = 1;
  kv_options k;
  k.async_threads = 1;
  return kv_store::open(options{}, s, k);
}

// A queued call whose callback makes another async call while close() drains the pool: the second call
// runs on its caller, on the still-open store (the pool was once destroyed first, and the post went
// through a null pointer).
TEST(KvAsyncCloseTest, ACallbackMayCallAgainWhileTheStoreCloses) {
  auto kv = open_with_one_async_thread();
  ASSERT_TRUE(kv) << kv.error().to_string();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> first_running;
  (*kv)->set_async("/a", "1", [&](result<std::uint64_t>) {
    first_running.set_value();
    released.wait();
  });
  std::future<result<kv_entry>> nested;
  std::promise<void> second_done;
  (*kv)->set_async("/b", "2", [&](result<std::uint64_t> r) {
    EXPECT_EQ(r, 1U);
    nested = (*kv)->get_async("/a");
    second_done.set_value();
  });
  first_running.get_future().wait();
  std::thread closer([&] { EXPECT_TRUE((*kv)->close()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // close() is draining the queue by now
  release.set_value();
  closer.join();
  second_done.get_future().wait();
  ASSERT_TRUE(nested.valid());
  const auto got = nested.get();
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(got->value, "1");
  EXPECT_EQ((*kv)->get_async("/a").get().error().code(), errc::not_supported) << "closed now";
}

// A callback that closes the store runs on a thread of the pool that close() stops: that thread cannot
// join itself (it used to try, and std::terminate ended the process); it is detached and ends on its own.
TEST(KvAsyncCloseTest, ACallbackMayCloseTheStore) {
  auto kv = open_with_one_async_thread();
  ASSERT_TRUE(kv) << kv.error().to_string();
  std::promise<result<void>> closed;
  (*kv)->set_async("/a", "1", [&](result<std::uint64_t> r) {
    EXPECT_EQ(r, 1U);
    closed.set_value((*kv)->close());
  });
  const result<void> r = closed.get_future().get();
  EXPECT_TRUE(r) << r.error().to_string();
  EXPECT_EQ((*kv)->get("/a").error().code(), errc::not_supported) << "closed";
  kv->reset();  // destroyed while the detached thread may still be on its way out
}

TEST_P(KvStoreTest, AClosedStoreRefusesCalls) {
  ASSERT_TRUE(kv_->set("/a", "1"));
  ASSERT_TRUE(kv_->close());
  EXPECT_EQ(kv_->get("/a").error().code(), errc::not_supported);
  EXPECT_EQ(kv_->set("/a", "2").error().code(), errc::not_supported);
  EXPECT_EQ(kv_->transaction({kv_op::set("/a", "3")}).error().code(), errc::not_supported);
  EXPECT_EQ(kv_->set_async("/a", "4").get().error().code(), errc::not_supported);
  EXPECT_EQ(kv_->watch("*").error().code(), errc::not_supported);
  EXPECT_TRUE(kv_->close()) << "closing twice is harmless";
}

TEST_P(KvDurableStoreTest, ADurableStoreKeepsVersionsAndTimesAcrossReopen) {
  ASSERT_TRUE(kv_->set("/keep", "a"));
  ASSERT_TRUE(kv_->set("/keep", "b"));
  const auto before = kv_->get("/keep").value();
  const std::uint64_t seq_before = kv_->current_seq();
  reopen();
  const auto after = kv_->get("/keep").value();
  EXPECT_EQ(after.value, "b");
  EXPECT_EQ(after.version, 2U);
  EXPECT_EQ(after.created_at_ns, before.created_at_ns);
  EXPECT_EQ(after.updated_at_ns, before.updated_at_ns);
  EXPECT_GT(kv_->current_seq(), seq_before) << "a reopened store never reuses a seq";
  EXPECT_EQ(kv_->set("/keep", "c"), 3U);
}

TEST_P(KvDurableStoreTest, AReadOnlyOpenReadsAndRefusesWrites) {
  ASSERT_TRUE(kv_->set("/ro", "v"));
  ASSERT_TRUE(kv_->close());
  kv_.reset();
  options o;
  o.backend = backend::mmap;
  o.read_only = true;
  shard_options s;
  s.shards = GetParam().shards;
  auto ro = kv_store::open(dir(), o, s);
  ASSERT_TRUE(ro.has_value()) << ro.error().to_string();
  EXPECT_EQ((*ro)->get("/ro")->value, "v");
  EXPECT_EQ((*ro)->list("/").value().size(), 1U);
  EXPECT_EQ((*ro)->set("/ro", "w").error().code(), errc::not_supported);
}

TEST_P(KvDurableStoreTest, ANewerOrDamagedKvMetaRecordIsRefusedAtOpen) {
  ASSERT_TRUE(kv_->close());
  kv_.reset();
  const std::string meta("\xFF\xFFtessel/kv/meta", 16);
  const auto rewrite_meta = [&](const std::string& record) {
    options o;
    o.backend = backend::mmap;
    auto raw = sharded_store::open(dir(), o, {});
    ASSERT_TRUE(raw.has_value()) << raw.error().to_string();
    ASSERT_TRUE((*raw)->put(as_bytes(meta), as_bytes(record)));
    ASSERT_TRUE((*raw)->close());
  };
  std::string newer(16, '\0');
  newer[0] = 2;  // kv format 2, little endian
  rewrite_meta(newer);
  auto opened = test::open_kv(GetParam(), dir());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), errc::version_mismatch) << opened.error().to_string();
  rewrite_meta("short");
  opened = test::open_kv(GetParam(), dir());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), errc::corruption) << opened.error().to_string();
}

// A sharded store written through the byte API is not silently made a kv store: its values would all
// read as corruption, and adding the meta record would make that permanent.
TEST(KvStoreOpen, AStoreWrittenThroughTheByteApiIsRefusedAndLeftAsItWas) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("bytes");
  options o;
  o.backend = backend::mmap;
  shard_options s;
  s.shards = 2;
  s.bind_memory = false;
  {
    auto raw = sharded_store::open(dir, o, s);
    ASSERT_TRUE(raw.has_value()) << raw.error().to_string();
    ASSERT_TRUE((*raw)->put(as_bytes(std::string_view("plain")), as_bytes(std::string_view("bytes"))));
    ASSERT_TRUE((*raw)->close());
  }
  for (const bool read_only : {false, true}) {
    options k = o;
    k.read_only = read_only;
    auto kv = kv_store::open(dir, k, s);
    ASSERT_FALSE(kv.has_value()) << "read_only " << read_only;
    EXPECT_EQ(kv.error().code(), errc::invalid_argument);
    EXPECT_NE(kv.error().message().find("byte API"), std::string_view::npos) << kv.error().message();
  }
  auto raw = sharded_store::open(dir, o, s);
  ASSERT_TRUE(raw.has_value()) << raw.error().to_string();
  EXPECT_EQ((*raw)->len(), 1U) << "no meta record was added";
}

INSTANTIATE_TEST_SUITE_P(Configs, KvStoreTest, ::testing::ValuesIn(test::kv_configs()), test::kv_config_name);
INSTANTIATE_TEST_SUITE_P(Configs, KvDurableStoreTest, ::testing::ValuesIn(test::durable_kv_configs()),
                         test::kv_config_name);

}  // namespace
}  // namespace tessel
