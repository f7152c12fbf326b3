// shard_worker: worker mode of a sharded store (docs/concurrency.md §Modes). One thread per shard,
// optionally pinned to the shard's core, owns the shard: writes from any thread reach it through a bounded
// queue, and it applies whatever is queued as one batch, makes the batch durable with one log sync (when the
// shard's durability asks for it), publishes the shard's new version, and only then completes the callers'
// futures -- so a write acknowledged to one thread is visible to a read another thread starts afterwards.
//
// Thread safety: put/erase from any thread. The shard must not be written by anyone else while a worker
// owns it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"
#include "tessel/options.hpp"
#include "tessel/store.hpp"

namespace tessel::detail {

class shard_worker {
 public:
  /// Starts the thread; `on_start` runs on it first (pinning it), and its error fails every request. Each
  /// batch is made durable as `level` says: none, one log flush (log), or one commit (sync), and is applied
  /// holding `shard_lock`, so a cut that takes every shard's lock sees whole batches.
  shard_worker(store& shard, std::mutex& shard_lock, durability level, std::size_t queue_capacity,
               std::function<result<void>()> on_start);
  shard_worker(const shard_worker&) = delete;
  shard_worker& operator=(const shard_worker&) = delete;
  /// Applies what is queued, then stops the thread.
  ~shard_worker();

  /// Queues a write. Blocks while the queue is full. Errors (in the future): those of the store's write
  /// and its sync; no_memory.
  [[nodiscard]] std::future<result<void>> put(key_view key, value_view value);
  [[nodiscard]] std::future<result<bool>> erase(key_view key);

 private:
  struct request {
    bool erase = false;
    std::string key;
    std::string value;
    result<void> put_result;  // the write's own outcome, before the batch's sync
    result<bool> erase_result = false;
    std::promise<result<void>> put_done;
    std::promise<result<bool>> erase_done;
  };
  void enqueue(request r);
  void run(const std::function<result<void>()>& on_start);
  void apply(std::vector<request>& batch);

  store& shard_;
  std::mutex& shard_lock_;
  durability level_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable work_;   // requests queued, or stop
  std::condition_variable space_;  // the queue has room again
  std::vector<request> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once everything it reads is built
};

}  // namespace tessel::detail
