// task_pool: the threads that run a kv store's *_async calls. A plain queue of closures: the calls they
// run take the shards' locks themselves, so any thread may run any call.
//
// Thread safety: post from any thread, during stop() too; stop() and the destructor run what is queued,
// then join.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tessel::detail {

class task_pool {
 public:
  /// Starts `threads` threads; with 0, post() runs each task on the caller. Throws std::system_error.
  explicit task_pool(std::uint32_t threads);
  task_pool(const task_pool&) = delete;
  task_pool& operator=(const task_pool&) = delete;
  ~task_pool();

  /// Queues `task`; once stop() has begun, runs it on the caller instead, so a task posted by a task
  /// still runs before the store closes. Throws std::bad_alloc.
  void post(std::function<void()> task);
  /// Runs every queued task, then joins the threads; later posts run on their callers. Idempotent.
  /// REQUIRES: not called from a task (a thread cannot join itself).
  void stop() noexcept;

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // last: they start once the rest is built
};

}  // namespace tessel::detail
