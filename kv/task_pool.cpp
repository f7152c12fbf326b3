#include "kv/task_pool.hpp"

#include <utility>

namespace tessel::detail {

task_pool::task_pool(std::uint32_t threads) {
  threads_.reserve(threads);
  for (std::uint32_t i = 0; i < threads; ++i) threads_.emplace_back([s = state_] { run(*s); });
}

task_pool::~task_pool() { stop(); }

void task_pool::stop() noexcept {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->work.notify_all();
  for (std::thread& t : threads_) {
    if (!t.joinable()) continue;
    // A task that closes the store stops the pool from one of its own threads, which cannot join itself:
    // that thread ends on its own once its task returns, holding the shared state.
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
      continue;
    }
    t.join();
  }
}

void task_pool::post(std::function<void()> task) {
  bool queued = false;
  if (!threads_.empty()) {
    std::lock_guard lock(state_->mutex);
    if (!state_->stopping) {
      state_->queue.push_back(std::move(task));
      queued = true;
    }
  }
  if (!queued) {
    task();
    return;
  }
  state_->work.notify_one();
}

void task_pool::run(shared_state& s) {
  std::unique_lock lock(s.mutex);
  while (true) {
    s.work.wait(lock, [&] { return !s.queue.empty() || s.stopping; });
    if (s.queue.empty()) return;  // stopping, nothing left
    std::function<void()> task = std::move(s.queue.front());
    s.queue.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace tessel::detail
