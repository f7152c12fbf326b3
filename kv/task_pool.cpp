#include "kv/task_pool.hpp"

#include <utility>

namespace tessel::detail {

task_pool::task_pool(std::uint32_t threads) {
  threads_.reserve(threads);
  for (std::uint32_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

task_pool::~task_pool() { stop(); }

void task_pool::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void task_pool::post(std::function<void()> task) {
  bool queued = false;
  if (!threads_.empty()) {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(task));
      queued = true;
    }
  }
  if (!queued) {
    task();
    return;
  }
  work_.notify_one();
}

void task_pool::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, nothing left
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace tessel::detail
