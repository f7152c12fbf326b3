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
#include <memory>
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
  /// Runs every queued task, then joins the threads; later posts run on their callers. Idempotent. Called
  /// from a task (a callback that closes the store), that task's thread is detached instead of joined.
  void stop() noexcept;

 private:
  // Shared with the threads: one detached by a stop() from a task outlives the pool (the store may be
  // destroyed right after its close()), and still reads the queue once its task returns.
  struct shared_state {
    std::mutex mutex;
    std::condition_variable work;
    std::deque<std::function<void()>> queue;
    bool stopping = false;
  };
  static void run(shared_state& s);

  std::shared_ptr<shared_state> state_ = std::make_shared<shared_state>();
  std::vector<std::thread> threads_;  // last: they start once the rest is built
};

}  // namespace tessel::detail
