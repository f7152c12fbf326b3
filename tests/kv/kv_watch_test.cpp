// Watch streams: every committed change delivered once and in order, patterns, resuming from a seq,
// compaction, a slow watcher lagging without blocking writers, and streams ending with their store.
// Label concurrency: consumers run on their own threads (tsan clean).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include "tessel/kv_store.hpp"

#include "store/sharded_access.hpp"
#include "tests/kv/kv_test_support.hpp"

namespace tessel {
namespace {

using namespace std::chrono_literals;

const test::kv_config four_shards{"dram_4_shards", backend::dram, 4, shard_mode::inline_calls, durability::none};

std::unique_ptr<kv_store> open_or_fail(const test::kv_config& c, const std::string& dir, const kv_options& o = {}) {
  auto kv = test::open_kv(c, dir, o);
  if (!kv) {
    ADD_FAILURE() << kv.error().to_string();
    return nullptr;
  }
  return std::move(*kv);
}

/// Takes `n` events, failing on an error or a wait over 10 s.
std::vector<kv_event> take(watch_stream& w, std::size_t n) {
  std::vector<kv_event> out;
  while (out.size() < n) {
    auto e = w.next_for(10s);
    if (!e || !*e) {
      ADD_FAILURE() << "event " << out.size() << " of " << n << ": " << (e ? "timed out" : e.error().to_string());
      break;
    }
    out.push_back(std::move(**e));
  }
  return out;
}

/// Asserts no event is waiting.
void expect_quiet(watch_stream& w) {
  auto e = w.next_for(20ms);
  ASSERT_TRUE(e.has_value()) << e.error().to_string();
  EXPECT_FALSE(e->has_value()) << "unexpected event for " << (*e)->key;
}

class KvWatchTest : public ::testing::TestWithParam<test::kv_config> {
 protected:
  test::temp_dir tmp_;
};

TEST_P(KvWatchTest, EveryChangeArrivesOnceInOrder) {
  auto kv = open_or_fail(GetParam(), tmp_.sub("kv"));
  ASSERT_NE(kv, nullptr);
  auto w = kv->watch("*");
  ASSERT_TRUE(w.has_value()) << w.error().to_string();
  ASSERT_TRUE(kv->set("/a", "1"));
  ASSERT_TRUE(kv->set("/a", "2"));
  ASSERT_TRUE(kv->set("/b", "x"));
  ASSERT_TRUE(kv->erase("/a"));
  ASSERT_TRUE(kv->erase("/missing"));  // writes nothing: no event
  ASSERT_TRUE(kv->compare_and_set("/b", 1, "y"));
  const auto events = take(**w, 5);
  ASSERT_EQ(events.size(), 5U);
  const std::vector<std::tuple<kv_event_type, std::string, std::uint64_t, std::optional<std::string>>> expected{
      {kv_event_type::created, "/a", 1, "1"},
      {kv_event_type::updated, "/a", 2, "2"},
      {kv_event_type::created, "/b", 1, "x"},
      {kv_event_type::deleted, "/a", 2, std::nullopt},
      {kv_event_type::updated, "/b", 2, "y"}};
  for (std::size_t i = 0; i < events.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(events[i].type, std::get<0>(expected[i]));
    EXPECT_EQ(events[i].key, std::get<1>(expected[i]));
    EXPECT_EQ(events[i].version, std::get<2>(expected[i]));
    EXPECT_EQ(events[i].value, std::get<3>(expected[i]));
    if (i > 0) {
      EXPECT_EQ(events[i].seq, events[i - 1].seq + 1) << "one seq per commit";
    }
  }
  EXPECT_EQ(events.back().seq, kv->current_seq());
  expect_quiet(**w);
}

TEST_P(KvWatchTest, ConcurrentWritersKeepPerKeyOrder) {
  auto kv = open_or_fail(GetParam(), tmp_.sub("kv"));
  ASSERT_NE(kv, nullptr);
  auto w = kv->watch("/w/*", {.from_seq = std::nullopt, .values = false, .capacity = 1 << 16});
  ASSERT_TRUE(w.has_value());
  constexpr int writers = 4;
  constexpr int writes = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < writes; ++i) {
        const std::string key = "/w/" + std::to_string((t * 7 + i) % 10);  // writers share keys
        if (!kv->set(key, "v")) ADD_FAILURE() << "set " << key;
      }
    });
  }
  const auto events = take(**w, writers * writes);
  for (std::thread& t : threads) t.join();
  std::map<std::string, std::uint64_t> last_version;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i > 0) {
      ASSERT_EQ(events[i].seq, events[i - 1].seq + 1) << "seqs arrive in order, none missing";
    }
    std::uint64_t& last = last_version[events[i].key];
    ASSERT_EQ(events[i].version, last + 1) << events[i].key << ": versions in order, none missing";
    last = events[i].version;
    EXPECT_FALSE(events[i].value.has_value()) << "values were not asked for";
  }
  expect_quiet(**w);
}

INSTANTIATE_TEST_SUITE_P(Configs, KvWatchTest, ::testing::ValuesIn(test::kv_configs()), test::kv_config_name);

TEST(KvWatch, ATransactionsChangesShareOneSeq) {
  test::temp_dir tmp;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"));
  auto w = kv->watch("*");
  ASSERT_TRUE(w.has_value());
  auto r = kv->transaction({kv_op::set("/t/a", "1"), kv_op::set("/t/b", "2"), kv_op::set("/t/c", "3")});
  ASSERT_TRUE(r.has_value());
  const auto events = take(**w, 3);
  ASSERT_EQ(events.size(), 3U);
  for (const kv_event& e : events) EXPECT_EQ(e.seq, r->seq);
  EXPECT_EQ(events[0].key, "/t/a");
  EXPECT_EQ(events[2].key, "/t/c");
}

TEST(KvWatch, PrefixPatternsDoNotMatchSiblings) {
  test::temp_dir tmp;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"));
  auto under_a = kv->watch("/a/*");
  auto exact = kv->watch("/a");
  ASSERT_TRUE(under_a.has_value());
  ASSERT_TRUE(exact.has_value());
  for (const char* k : {"/ab", "/a", "/a/x", "/b/a/x", "/a/x/y", "/abc/d"}) ASSERT_TRUE(kv->set(k, "v"));
  const auto events = take(**under_a, 2);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].key, "/a/x");
  EXPECT_EQ(events[1].key, "/a/x/y");
  expect_quiet(**under_a);
  EXPECT_EQ(take(**exact, 1).front().key, "/a");
  expect_quiet(**exact);
  EXPECT_EQ(kv->watch("/a*").error().code(), errc::invalid_argument);
}

TEST(KvWatch, ResumingFromASeqReplaysTheGapThenGoesLive) {
  test::temp_dir tmp;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"));
  ASSERT_TRUE(kv->set("/r/a", "1"));
  const std::uint64_t seen = kv->current_seq();
  ASSERT_TRUE(kv->set("/r/a", "2"));
  ASSERT_TRUE(kv->set("/other", "x"));
  ASSERT_TRUE(kv->set("/r/b", "3"));
  auto w = kv->watch("/r/*", {.from_seq = seen});
  ASSERT_TRUE(w.has_value()) << w.error().to_string();
  ASSERT_TRUE(kv->set("/r/c", "4"));
  const auto events = take(**w, 3);
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[0].value, "2");
  EXPECT_EQ(events[1].key, "/r/b");
  EXPECT_EQ(events[2].key, "/r/c") << "live after the replay, nothing twice";
  expect_quiet(**w);
}

TEST(KvWatch, AnEntrysSeqIsAnExactResumePoint) {
  test::temp_dir tmp;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"));
  ASSERT_TRUE(kv->set("/e", "1"));
  ASSERT_TRUE(kv->set("/f", "1"));
  const kv_entry e = kv->get("/e").value();
  ASSERT_TRUE(kv->set("/e", "2"));
  auto w = kv->watch("/e", {.from_seq = e.seq});
  ASSERT_TRUE(w.has_value());
  const auto events = take(**w, 1);
  EXPECT_EQ(events.front().version, e.version + 1);
  expect_quiet(**w);
}

TEST(KvWatch, AScansSeqResumesAfterItsCut) {
  test::temp_dir tmp;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"));
  ASSERT_TRUE(kv->set("/s/a", "1"));
  ASSERT_TRUE(kv->set("/s/b", "1"));
  std::size_t listed = 0;
  auto seq = kv->scan("/s/", [&](std::string_view, const kv_entry&) { return ++listed, true; });
  ASSERT_TRUE(seq.has_value());
  EXPECT_EQ(listed, 2U);
  EXPECT_EQ(*seq, kv->current_seq()) << "nothing raced the cut";
  ASSERT_TRUE(kv->set("/s/c", "1"));
  auto w = kv->watch("/s/*", {.from_seq = *seq});
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(take(**w, 1).front().key, "/s/c");
  expect_quiet(**w);
}

// Without a history, a watch that subscribes while writes go on still gets every commit after its seq:
// whether a commit's events are built is decided under the hub's mutex, with the subscription's.
TEST(KvWatch, ASubscriptionDuringWritesMissesNoCommitWithoutAHistory) {
  test::temp_dir tmp;
  kv_options o;
  o.history_commits = 0;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"), o);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      if (!kv->set("/r/" + std::to_string(i % 50), "v")) ADD_FAILURE() << "set";
    }
  });
  int watched = 0;
  for (int attempt = 0; attempt < 2000 && watched < 50; ++attempt) {
    const std::uint64_t from = kv->current_seq();
    auto w = kv->watch("*", {.from_seq = from, .values = false, .capacity = 1 << 16});
    if (!w) {
      ASSERT_EQ(w.error().code(), errc::compacted);  // a commit came between: no history to replay it
      continue;
    }
    ++watched;
    const auto events = take(**w, 20);
    ASSERT_EQ(events.size(), 20U);
    for (std::size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(events[i].seq, from + 1 + i) << "a commit after the watch's seq was not delivered";
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(watched, 0);
}

TEST(KvWatch, CompactedHistoryIsAClearError) {
  test::temp_dir tmp;
  kv_options o;
  o.history_commits = 10;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"), o);
  const std::uint64_t start = kv->current_seq();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(kv->set("/c", std::to_string(i)));
  auto old = kv->watch("*", {.from_seq = start});
  ASSERT_FALSE(old.has_value());
  EXPECT_EQ(old.error().code(), errc::compacted);
  const std::string oldest = std::to_string(kv->current_seq() - 10);
  EXPECT_NE(old.error().message().find(oldest), std::string_view::npos) << old.error().message();
  auto w = kv->watch("*", {.from_seq = kv->current_seq() - 10});
  ASSERT_TRUE(w.has_value()) << w.error().to_string();
  EXPECT_EQ(take(**w, 10).back().value, "49");
  EXPECT_EQ(kv->watch("*", {.from_seq = kv->current_seq() + 1}).error().code(), errc::invalid_argument);
}

TEST(KvWatch, ASlowWatcherLagsWithoutBlockingWriters) {
  test::temp_dir tmp;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"));
  auto slow = kv->watch("*", {.from_seq = std::nullopt, .values = true, .capacity = 16});
  ASSERT_TRUE(slow.has_value());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(kv->set("/s/" + std::to_string(i % 37), "v"));  // never waits
  const auto buffered = take(**slow, 17);
  ASSERT_EQ(buffered.size(), 17U);
  EXPECT_EQ(buffered[15].type, kv_event_type::created);
  const kv_event& lagged = buffered[16];
  EXPECT_EQ(lagged.type, kv_event_type::lagged);
  EXPECT_EQ(lagged.seq, buffered[15].seq) << "resume from the last event delivered";
  EXPECT_EQ((*slow)->next().error().code(), errc::aborted);
  auto resumed = kv->watch("*", {.from_seq = lagged.seq});
  ASSERT_TRUE(resumed.has_value()) << resumed.error().to_string();
  const auto rest = take(**resumed, 1000 - 16);
  ASSERT_EQ(rest.size(), 1000U - 16);
  EXPECT_EQ(rest.front().seq, lagged.seq + 1);
  EXPECT_EQ(rest.back().seq, kv->current_seq());
}

// nanoseconds::max() as a timeout or a spin means "forever": start + it used to wrap into the past, so
// next_for returned nothing at once.
TEST(KvWatch, AnEndlessTimeoutWaitsForTheEvent) {
  auto kv = open_or_fail(four_shards, "");
  watch_options o;
  o.spin = std::chrono::nanoseconds::max();
  auto w = kv->watch("/t", o);
  ASSERT_TRUE(w.has_value()) << w.error().to_string();
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_TRUE(kv->set("/t", "v"));
  });
  auto e = (*w)->next_for(std::chrono::nanoseconds::max());
  writer.join();
  ASSERT_TRUE(e.has_value()) << e.error().to_string();
  ASSERT_TRUE(e->has_value()) << "next_for(nanoseconds::max()) returned before the event";
  EXPECT_EQ((*e)->key, "/t");
}

// close() of a subscription waits for the callback in progress, not for every buffered event (it used to
// run the callback for the whole buffer first: with a slow callback, minutes).
TEST(KvWatch, ClosingASubscriptionWaitsOnlyForTheCallbackInProgress) {
  auto kv = open_or_fail(four_shards, "");
  std::atomic<int> calls{0};
  std::atomic<bool> closing{false};
  std::atomic<int> begun_after_close{0};
  auto sub = kv->watch("/s/*", {}, [&](const kv_event&) {
    if (closing.load()) ++begun_after_close;
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  ASSERT_TRUE(sub.has_value()) << sub.error().to_string();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(kv->set("/s/" + std::to_string(i), "v"));
  while (calls.load() == 0) std::this_thread::yield();
  closing = true;
  (*sub)->close();
  EXPECT_LE(begun_after_close.load(), 1) << "close() ran the callback for the buffered events";
  EXPECT_LT(calls.load(), 100);
}

TEST(KvWatch, ClosingEndsAWaitingConsumer) {
  test::temp_dir tmp;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"));
  auto w = kv->watch("*");
  ASSERT_TRUE(w.has_value());
  auto w2 = kv->watch("*");
  ASSERT_TRUE(w2.has_value());
  std::thread consumer([&] { EXPECT_EQ((*w)->next().error().code(), errc::aborted); });
  std::this_thread::sleep_for(5ms);
  (*w)->close();
  consumer.join();
  ASSERT_TRUE(kv->set("/after", "v"));
  std::thread other([&] {
    EXPECT_TRUE((*w2)->next().has_value()) << "the buffered event first";
    EXPECT_EQ((*w2)->next().error().code(), errc::aborted) << "then the store's close ends it";
  });
  std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(kv->close());
  other.join();
}

TEST(KvWatch, ACallbackSubscriptionGetsEveryEventOnItsOwnThread) {
  test::temp_dir tmp;
  auto kv = open_or_fail(four_shards, tmp.sub("kv"));
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> keys;
  const auto caller = std::this_thread::get_id();
  bool other_thread = true;
  auto sub = kv->watch("/cb/*", {}, [&](const kv_event& e) {
    std::lock_guard lock(m);
    other_thread = other_thread && std::this_thread::get_id() != caller;
    keys.push_back(e.key);
    cv.notify_all();
  });
  ASSERT_TRUE(sub.has_value()) << sub.error().to_string();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(kv->set("/cb/" + std::to_string(i), "v"));
  ASSERT_TRUE(kv->set("/other", "v"));
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return keys.size() == 20; }));
  }
  (*sub)->close();
  ASSERT_TRUE(kv->set("/cb/after-close", "v"));
  std::this_thread::sleep_for(10ms);
  std::lock_guard lock(m);
  EXPECT_EQ(keys.size(), 20U) << "nothing after close";
  EXPECT_EQ(keys.front(), "/cb/0");
  EXPECT_TRUE(other_thread);
}

const test::kv_config durable_two_shards{"mmap", backend::mmap, 2, shard_mode::inline_calls, durability::log};

/// Expects `events` to be exactly `want` (key, type, version, seq).
void expect_events(const std::vector<kv_event>& events, const std::vector<kv_event>& want) {
  ASSERT_EQ(events.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(events[i].key, want[i].key) << i;
    EXPECT_EQ(events[i].type, want[i].type) << i;
    EXPECT_EQ(events[i].version, want[i].version) << i;
    EXPECT_EQ(events[i].seq, want[i].seq) << i;
  }
}

TEST(KvWatch, AWatchResumesAcrossACleanReopen) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("kv");
  std::vector<kv_event> want;
  std::uint64_t from = 0;
  std::uint64_t last_seq = 0;
  {
    auto kv = open_or_fail(durable_two_shards, dir);
    ASSERT_TRUE(kv->set("/d/a", "1"));
    from = kv->current_seq();
    ASSERT_TRUE(kv->set("/d/b", "2"));
    want.push_back({kv_event_type::created, "/d/b", 1, "2", kv->current_seq()});
    ASSERT_TRUE(kv->erase("/d/a"));
    want.push_back({kv_event_type::deleted, "/d/a", 1, std::nullopt, kv->current_seq()});
    ASSERT_TRUE(kv->set("/elsewhere", "x"));
    ASSERT_TRUE(kv->close());
  }
  {
    auto kv = open_or_fail(durable_two_shards, dir);
    EXPECT_GT(kv->current_seq(), want.back().seq) << "a new opening, a new range of seqs";
    auto w = kv->watch("/d/*", {.from_seq = from});
    ASSERT_TRUE(w.has_value()) << w.error().to_string();
    expect_events(take(**w, 2), want);
    ASSERT_TRUE(kv->set("/d/c", "3"));
    want.push_back({kv_event_type::created, "/d/c", 1, "3", kv->current_seq()});
    expect_events(take(**w, 1), {want.back()});  // then live
    ASSERT_TRUE(kv->close());
  }
  {
    // The history the second opening saved holds the first one's commits too.
    auto kv = open_or_fail(durable_two_shards, dir);
    auto w = kv->watch("/d/*", {.from_seq = from});
    ASSERT_TRUE(w.has_value()) << w.error().to_string();
    expect_events(take(**w, 3), want);
    last_seq = kv->current_seq();
    ASSERT_TRUE(kv->close());
  }
  {
    // A read-only opening starts no new range of seqs: it continues from the last commit.
    options o;
    o.backend = backend::mmap;
    o.read_only = true;
    shard_options s;
    s.bind_memory = false;
    auto kv = kv_store::open(dir, o, s);
    ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
    EXPECT_EQ((*kv)->current_seq(), last_seq);
    auto w = (*kv)->watch("/d/*", {.from_seq = want[0].seq});
    ASSERT_TRUE(w.has_value()) << w.error().to_string();
    expect_events(take(**w, 2), {want[1], want[2]});
  }
}

/// Opens `c` in `dir` in a forked child, runs `work` on it and ends the child without close(), as a crash
/// would after `work`. Whether the open and `work` succeeded.
bool ended_without_close(const test::kv_config& c, const std::string& dir, const std::function<bool(kv_store&)>& work) {
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    auto kv = test::open_kv(c, dir);
    _exit(kv && work(**kv) ? 0 : 1);
  }
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// At durability none too, an opening's generation is durable before its first commit: an opening that
// dies at once still used up its range of seqs, and the next one starts a new range.
TEST(KvWatch, AnOpeningsSeqsAreNeverReusedAfterACrashAtDurabilityNone) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("kv");
  const test::kv_config c{"mmap_none", backend::mmap, 2, shard_mode::inline_calls, durability::none};
  std::uint64_t first = 0;
  {
    auto kv = open_or_fail(c, dir);
    first = kv->current_seq();
    ASSERT_TRUE(kv->close());
  }
  ASSERT_TRUE(ended_without_close(c, dir, [](kv_store&) { return true; }));  // not even a write
  auto kv = open_or_fail(c, dir);
  EXPECT_EQ(kv->current_seq() >> 40, (first >> 40) + 2) << "the crashed opening's generation was lost";
}

// An opening that ends without close() saves no history, and the one before it is used up: a watch from
// any earlier seq is compacted, naming the first seq it can resume from.
TEST(KvWatch, AfterAnOpeningThatDidNotCloseEarlierSeqsAreCompacted) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("kv");
  std::uint64_t first_opening = 0;
  {
    auto kv = open_or_fail(durable_two_shards, dir);
    ASSERT_TRUE(kv->set("/d", "1"));
    first_opening = kv->current_seq();
    ASSERT_TRUE(kv->close());
  }
  ASSERT_TRUE(ended_without_close(
      durable_two_shards, dir, [](kv_store& kv) { return kv.set("/d", "2").has_value() && kv.flush().has_value(); }));
  auto kv = open_or_fail(durable_two_shards, dir);
  auto entry = kv->get("/d");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->version, 2u) << "the data of the opening that did not close is there";
  auto w = kv->watch("*", {.from_seq = first_opening});
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().code(), errc::compacted);
  EXPECT_NE(w.error().message().find(std::to_string(kv->current_seq())), std::string_view::npos) << w.error().message();
}

// A transaction that failed past its commit point has no seq and no events, and the reopen finishes it: a
// history saved at close would hide its changes from a watch resumed across them, so none is saved and
// earlier seqs are compacted.
TEST(KvWatch, AfterATransactionFailedPastItsCommitPointEarlierSeqsAreCompacted) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("kv");
  std::uint64_t before = 0;
  {
    auto kv = open_or_fail(durable_two_shards, dir);
    ASSERT_TRUE(kv->set("/d", "1"));
    before = kv->current_seq();
    ASSERT_TRUE(kv->set("/d", "2"));
    detail::sharded_access::fail_batches(kv->engine(), error(errc::io_error, "a part that could not be applied"));
    (void)kv->close();
  }
  auto kv = open_or_fail(durable_two_shards, dir);
  EXPECT_EQ(kv->get("/d")->version, 2u);
  auto w = kv->watch("*", {.from_seq = before});
  ASSERT_FALSE(w.has_value()) << "resumed from a history that may miss the failed transaction";
  EXPECT_EQ(w.error().code(), errc::compacted);
}

}  // namespace
}  // namespace tessel
