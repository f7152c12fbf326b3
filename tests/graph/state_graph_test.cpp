// The state graph (splendor semantics): content-addressed states, nodes and snapshots; ids stable across
// processes (fixed vectors computed from the documented encoding); a DAG with merges walks each ancestor
// once, nearest first; unknown ids are not_found; damaged records are corruption; and the graph lives in a
// durable store across reopen.
#include "tessel/state_graph.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "graph/graph_encoding.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StateGraphTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open(options{});
    ASSERT_TRUE(s.has_value());
    store_ = std::move(*s);
    graph_ = std::make_unique<state_graph>(*store_);
  }
  state_ref put(const std::string& bytes, std::optional<std::string> type = std::nullopt) {
    auto r = graph_->put_state({bytes, std::move(type)});
    EXPECT_TRUE(r.has_value()) << r.error().to_string();
    return r.value_or(state_ref{});
  }
  node_id commit(std::vector<node_id> parents, const state_ref& data, const std::string& label,
                 std::uint64_t at = 1'700'000'000'000'000'000ULL) {
    auto r = graph_->commit_node(parents, data, {at, label});
    EXPECT_TRUE(r.has_value()) << r.error().to_string();
    return r.value_or(node_id{});
  }

  std::unique_ptr<store> store_;
  std::unique_ptr<state_graph> graph_;
};

TEST_F(StateGraphTest, StatesAreContentAddressedAndRoundTrip) {
  const state_ref a = put(std::string("\0\x01\x02 bytes", 9), "application/octet-stream");
  const state_ref again = put(std::string("\0\x01\x02 bytes", 9), "application/octet-stream");
  const state_ref untyped = put(std::string("\0\x01\x02 bytes", 9));
  EXPECT_EQ(a, again) << "the same bytes and type give the same ref";
  EXPECT_NE(a, untyped) << "the content type is part of the state";
  const auto got = graph_->get_state(a);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes, std::string("\0\x01\x02 bytes", 9));
  EXPECT_EQ(got->content_type, "application/octet-stream");
  EXPECT_FALSE(graph_->get_state(untyped)->content_type.has_value());
  EXPECT_EQ(store_->len(), 2U) << "one record per distinct state";
}

TEST_F(StateGraphTest, IdsAreTheDocumentedHashesAndStableAcrossProcesses) {
  // Fixed vectors: SHA-256 of the encodings in docs/format.md §State graph, computed independently (Python's
  // hashlib over the documented bytes). A change here is a format change.
  const state_ref empty = put("");
  EXPECT_EQ(empty.id.hex(), "eaab76d8b5273f50cfffe07cca76f4ee7cfd2eeb94157b4b55531fff055cca93");
  const node_id root = commit({}, empty, "seed", 0);
  EXPECT_EQ(root.id.hex(), "69251d4bb2b472b726f6f3fd143beb05c5af1f56f9f16d449ed99b7f1df3975f");
  const std::string version_node = detail::encode_node({}, store_version{"v1", 7, 42, 3}, state_metadata{0, "seed"});
  EXPECT_EQ(detail::sha256(as_bytes(version_node)).hex(),
            "a0dd622e7685e2b0e35d01f1ed8478dd7b17b3bdcf520dbc9dd90ac1624098b3");
  auto decoded = detail::decode_node(version_node);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->version, (store_version{"v1", 7, 42, 3}));
  EXPECT_EQ(decoded->metadata.label, "seed");
}

TEST_F(StateGraphTest, CommittingTheSameNodeTwiceGivesOneIdAndOneRecord) {
  const state_ref s = put("state");
  const node_id a = commit({}, s, "first");
  const std::size_t records = store_->len();
  EXPECT_EQ(commit({}, s, "first"), a);
  EXPECT_EQ(store_->len(), records);
  EXPECT_NE(commit({}, s, "other label"), a) << "metadata is part of the id";
  EXPECT_NE(commit({}, s, "first", 2), a) << "created_at is part of the id";
}

TEST_F(StateGraphTest, NodesRoundTripWithParentsInOrder) {
  const node_id a = commit({}, put("a"), "a");
  const node_id b = commit({}, put("b"), "b");
  const state_ref m = put("merged", "text/plain");
  const node_id merge = commit({b, a}, m, "merge", 42);
  const auto node = graph_->get_node(merge);
  ASSERT_TRUE(node.has_value()) << node.error().to_string();
  EXPECT_EQ(node->id, merge);
  EXPECT_THAT(node->parents, ElementsAre(b, a));
  EXPECT_EQ(node->data, m);
  EXPECT_EQ(node->metadata.created_unix_ns, 42U);
  EXPECT_EQ(node->metadata.label, "merge");
  EXPECT_NE(commit({a, b}, m, "merge", 42), merge) << "parent order is part of the node";
}

TEST_F(StateGraphTest, ADagWithMergesWalksEveryAncestorOnceNearestFirst) {
  // root <- a, b;  a <- c;  a, b <- m1;  b <- d;  c, m1, d <- m2  (a and b are reached twice).
  const node_id root = commit({}, put("root"), "root");
  const node_id a = commit({root}, put("a"), "a");
  const node_id b = commit({root}, put("b"), "b");
  const node_id c = commit({a}, put("c"), "c");
  const node_id m1 = commit({a, b}, put("m1"), "m1");
  const node_id d = commit({b}, put("d"), "d");
  const node_id m2 = commit({c, m1, d}, put("m2"), "m2");
  std::vector<std::string> order;
  ASSERT_TRUE(graph_->walk_ancestors(m2, [&](const state_node& n) {
    order.push_back(*n.metadata.label);
    return true;
  }));
  EXPECT_THAT(order, ElementsAre("m2", "c", "m1", "d", "a", "b", "root"));
  std::vector<std::string> first_three;
  ASSERT_TRUE(graph_->walk_ancestors(m2, [&](const state_node& n) {
    first_three.push_back(*n.metadata.label);
    return first_three.size() < 3;
  }));
  EXPECT_THAT(first_three, ElementsAre("m2", "c", "m1"));
}

TEST_F(StateGraphTest, SnapshotsNameANodesState) {
  const state_ref s = put("the state", "application/json");
  const node_id n = commit({}, s, "v1");
  const auto id = graph_->snapshot(n);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*graph_->snapshot(n), *id) << "one snapshot id per node";
  const auto loaded = graph_->load_snapshot(*id);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().to_string();
  EXPECT_EQ(loaded->id, *id);
  EXPECT_EQ(loaded->node, n);
  EXPECT_EQ(loaded->data, (state_data{"the state", "application/json"}));
}

TEST_F(StateGraphTest, UnknownIdsAndBadArgumentsAreTypedErrors) {
  const digest unknown = *digest::from_hex(std::string(64, 'a'));
  EXPECT_EQ(graph_->get_state({unknown}).error().code(), errc::not_found);
  EXPECT_EQ(graph_->get_node({unknown}).error().code(), errc::not_found);
  EXPECT_EQ(graph_->load_snapshot({unknown}).error().code(), errc::not_found);
  EXPECT_EQ(graph_->snapshot({unknown}).error().code(), errc::not_found);
  const state_ref s = put("x");
  const auto orphan = graph_->commit_node(std::vector<node_id>{{unknown}}, s, {});
  ASSERT_FALSE(orphan.has_value());
  EXPECT_EQ(orphan.error().code(), errc::not_found);
  EXPECT_THAT(std::string(orphan.error().message()), HasSubstr(unknown.hex()));
  EXPECT_EQ(graph_->commit_node({}, state_ref{unknown}, {}).error().code(), errc::not_found);
  const node_id p = commit({}, s, "p");
  EXPECT_EQ(graph_->commit_node(std::vector<node_id>{p, p}, s, {}).error().code(), errc::invalid_argument);
  EXPECT_EQ(graph_->commit_node({}, s, {0, std::string(70'000, 'l')}).error().code(), errc::invalid_argument);
  EXPECT_EQ(digest::from_hex("abc").error().code(), errc::invalid_argument);
  EXPECT_EQ(digest::from_hex(std::string(63, 'a') + "g").error().code(), errc::invalid_argument);
  EXPECT_EQ(digest::from_hex(p.id.hex()).value(), p.id);
}

TEST_F(StateGraphTest, ADamagedRecordIsCorruption) {
  const state_ref s = put("original");
  const std::string key = detail::graph_key(detail::graph_record::state, s.id);
  auto value = store_->get_string(key);
  ASSERT_TRUE(value.has_value());
  value->back() = 'X';
  ASSERT_TRUE(store_->put_string(key, *value));
  const auto got = graph_->get_state(s);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), errc::corruption);
}

TEST(StateGraphDurableTest, TheGraphSurvivesACrashOfADurableStore) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("store");
  node_id head;
  snapshot_id snap;
  {
    auto s = test::must_open(dir, test::durable_options(durability::log));
    ASSERT_TRUE(s);
    state_graph g(*s);
    node_id parent;
    for (int i = 0; i < 20; ++i) {
      auto data = g.put_state({"state " + std::to_string(i), "text/plain"});
      ASSERT_TRUE(data.has_value());
      std::vector<node_id> parents;
      if (i > 0) parents.push_back(parent);
      auto n = g.commit_node(parents, *data, {static_cast<std::uint64_t>(i), "v" + std::to_string(i)});
      ASSERT_TRUE(n.has_value());
      parent = *n;
    }
    head = parent;
    snap = *g.snapshot(head);
    test::crash(std::move(s));
  }
  auto s = test::must_open(dir, test::durable_options(durability::log));
  ASSERT_TRUE(s);
  state_graph g(*s);
  int generations = 0;
  ASSERT_TRUE(g.walk_ancestors(head, [&](const state_node&) { return ++generations > 0; }));
  EXPECT_EQ(generations, 20);
  const auto loaded = g.load_snapshot(snap);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->data.bytes, "state 19");
}

// A node whose data is a whole store version: a named snapshot of the graph's own durable store.
TEST(StateGraphDurableTest, NodesOverStoreVersionsLoadThatVersionAcrossReopen) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("store");
  snapshot_id snap;
  node_id node;
  {
    auto s = test::must_open(dir, test::durable_options(durability::log));
    ASSERT_TRUE(s);
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(s->put_string("app/" + std::to_string(i), "v1"));
    ASSERT_TRUE(s->create_named_snapshot("release-1"));
    state_graph g(*s);
    auto unknown = g.commit_version_node({}, "no-such-snapshot", {1, "x"});
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().code(), errc::not_found);
    auto n = g.commit_version_node({}, "release-1", {1, "release 1"});
    ASSERT_TRUE(n.has_value()) << n.error().to_string();
    node = *n;
    snap = *g.snapshot(node);
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(s->put_string("app/" + std::to_string(i), "v2"));
    ASSERT_TRUE(s->close());
  }
  auto s = test::must_open(dir, test::durable_options(durability::log));
  ASSERT_TRUE(s);
  state_graph g(*s);
  auto got = g.get_node(node);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->version.has_value());
  EXPECT_EQ(got->version->snapshot_name, "release-1");
  EXPECT_EQ(got->version->keys, 300U);
  auto loaded = g.load_snapshot(snap);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().to_string();
  ASSERT_TRUE(loaded->version.valid());
  EXPECT_EQ(loaded->version.get_string("app/7").value_or("?"), "v1");
  EXPECT_EQ(s->get_string("app/7").value_or("?"), "v2");
  // The graph's records are not in the named version, which was taken before them.
  EXPECT_EQ(loaded->version.len(), 300U);
  loaded->version.release();
  // A name dropped, then made again over another state, is another version: the node no longer loads.
  ASSERT_TRUE(s->drop_named_snapshot("release-1"));
  ASSERT_TRUE(s->create_named_snapshot("release-1"));
  auto gone = g.load_snapshot(snap);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code(), errc::not_found);
  EXPECT_THAT(std::string(gone.error().message()), HasSubstr("release-1"));
}

}  // namespace
}  // namespace tessel
