// The watch history a durable kv store saves at a clean close (kv/saved_history.hpp): the next opening
// takes it back and erases it; a record of another generation, of another format, or whose records do not
// parse is dropped, leaving earlier seqs compacted; a read-only opening reads it and leaves it in place.
#include "kv/saved_history.hpp"

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "tessel/kv_store.hpp"
#include "tessel/sharded_store.hpp"

#include "kv/watch_hub.hpp"

namespace tessel::detail {
namespace {

constexpr std::string_view history_key{"\xFF\xFFtessel/kv/history", 19};
constexpr std::uint64_t generation = 5;
constexpr std::uint64_t first_seq = generation << 40;

std::unique_ptr<sharded_store> open_engine() {
  shard_options s;
  s.shards = 2;
  s.bind_memory = false;
  auto e = sharded_store::open(options{}, s);
  EXPECT_TRUE(e.has_value()) << e.error().to_string();
  return e ? std::move(*e) : nullptr;
}

/// A hub of `generation` keeping `history` commits, with `commits` single-set commits published.
std::unique_ptr<watch_hub> hub_with(std::uint64_t commits, std::size_t history = 1000) {
  auto hub = std::make_unique<watch_hub>(first_seq, history, 1 << 20);
  std::vector<std::shared_ptr<watcher>> to_wake;
  for (std::uint64_t i = 0; i < commits; ++i) {
    const std::string key = "/k/" + std::to_string(i);
    hub->publish([&](std::vector<change>& c) { c.push_back({kv_event_type::created, key, 1, "v"}); }, to_wake);
  }
  return hub;
}

bool has_record(const sharded_store& engine) {
  bool found = false;
  engine.read(as_bytes(history_key), [&](const result<value_view>& v) { found = v.has_value(); });
  return found;
}

/// The keys of the changes a watch from `from` replays from `hub`, or the error's code.
result<std::vector<std::string>> replayed(watch_hub& hub, std::uint64_t from) {
  auto w = hub.subscribe(*parse_pattern("*", key_rules::paths), {.from_seq = from});
  if (!w) return tl::unexpected(std::move(w.error()));
  std::vector<std::string> keys;
  while (true) {
    auto e = (*w)->next(std::chrono::nanoseconds{0});
    if (!e || !*e) break;
    keys.push_back((*e)->key);
  }
  return keys;
}

TEST(SavedHistoryTest, TheNextOpeningTakesItBackAndErasesIt) {
  auto engine = open_engine();
  ASSERT_TRUE(save_history(*engine, *hub_with(3), generation));
  ASSERT_TRUE(has_record(*engine));
  watch_hub next((generation + 1) << 40, 1000, 1 << 20);
  ASSERT_TRUE(load_history(*engine, next, generation, false));
  EXPECT_FALSE(has_record(*engine)) << "no later opening could use it";
  EXPECT_EQ(next.current_seq(), (generation + 1) << 40);
  auto keys = replayed(next, first_seq + 1);
  ASSERT_TRUE(keys.has_value()) << keys.error().to_string();
  EXPECT_EQ(*keys, (std::vector<std::string>{"/k/1", "/k/2"}));
}

TEST(SavedHistoryTest, AReadOnlyOpeningContinuesItsSeqsAndLeavesIt) {
  auto engine = open_engine();
  ASSERT_TRUE(save_history(*engine, *hub_with(3), generation));
  watch_hub reader(first_seq, 1000, 1 << 20);  // read-only: the generation is not advanced
  ASSERT_TRUE(load_history(*engine, reader, generation, true));
  EXPECT_TRUE(has_record(*engine));
  EXPECT_EQ(reader.current_seq(), first_seq + 3);
  auto keys = replayed(reader, first_seq);
  ASSERT_TRUE(keys.has_value()) << keys.error().to_string();
  EXPECT_EQ(keys->size(), 3u);
}

TEST(SavedHistoryTest, AnOpeningThatKeptNoHistorySavesThatItHasNone) {
  auto engine = open_engine();
  ASSERT_TRUE(save_history(*engine, *hub_with(3, 0), generation));
  watch_hub next((generation + 1) << 40, 1000, 1 << 20);
  ASSERT_TRUE(load_history(*engine, next, generation, false));
  auto from_first = replayed(next, first_seq);
  ASSERT_FALSE(from_first.has_value()) << "its three commits were never kept";
  EXPECT_EQ(from_first.error().code(), errc::compacted);
  auto from_last = replayed(next, first_seq + 3);
  ASSERT_TRUE(from_last.has_value()) << from_last.error().to_string();
  EXPECT_TRUE(from_last->empty());
}

/// Loads a record saved by generation 5 after `damage`, into generation 7's hub (previous: 6 unless
/// `previous` says otherwise); returns whether seq first_seq still resumes.
bool resumes_after(const std::function<void(std::string&)>& damage, std::uint64_t previous = generation) {
  auto engine = open_engine();
  EXPECT_TRUE(save_history(*engine, *hub_with(3), generation));
  std::string record;
  engine->read(as_bytes(history_key), [&](const result<value_view>& v) {
    record.assign(static_cast<const char*>(static_cast<const void*>(v->data())), v->size());
  });
  damage(record);
  EXPECT_TRUE(engine->put(as_bytes(history_key), as_bytes(record)));
  watch_hub next((previous + 1) << 40, 1000, 1 << 20);
  EXPECT_TRUE(load_history(*engine, next, previous, false));
  EXPECT_FALSE(has_record(*engine)) << "dropped or taken, the record is erased";
  auto keys = replayed(next, first_seq);
  if (!keys) {
    EXPECT_EQ(keys.error().code(), errc::compacted);
  }
  return keys.has_value();
}

TEST(SavedHistoryTest, ARecordThatDoesNotFitThisOpeningIsDropped) {
  EXPECT_TRUE(resumes_after([](std::string&) {}));
  EXPECT_FALSE(resumes_after([](std::string&) {}, generation + 1)) << "saved before an opening that crashed";
  EXPECT_FALSE(resumes_after([](std::string& r) { r[0] = 2; })) << "a newer format";
  EXPECT_FALSE(resumes_after([](std::string& r) { r.resize(20); })) << "a header cut short";
  EXPECT_FALSE(resumes_after([](std::string& r) { r.resize(r.size() - 8); })) << "records cut short";
  EXPECT_FALSE(resumes_after([](std::string& r) {
    const std::uint64_t later = first_seq + 2;  // before the last record's seq
    std::memcpy(r.data() + 24, &later, sizeof later);
  })) << "a last seq before the records'";
  EXPECT_FALSE(resumes_after([](std::string& r) {
    const std::uint64_t other = (generation + 3) << 40;
    std::memcpy(r.data() + 24, &other, sizeof other);
  })) << "a last seq of another generation";
  EXPECT_FALSE(resumes_after([](std::string& r) {
    const std::uint64_t after_last = first_seq + 4;
    std::memcpy(r.data() + 16, &after_last, sizeof after_last);
  })) << "complete after a seq past the last";
}

}  // namespace
}  // namespace tessel::detail
