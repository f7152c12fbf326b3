#include "common/background_job.hpp"

namespace tessel::detail {

bool background_job::request() noexcept {
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (...) {
      return false;  // no thread to be had (std::system_error): the caller does the work
    }
  }
  requested_ = true;
  wake_.notify_one();
  return true;
}

void background_job::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  // Only the first stop() finds it joinable once stopping_ is set: request() starts no thread after that.
  std::thread running;
  {
    std::lock_guard lock(mutex_);
    running = std::move(thread_);
  }
  if (running.joinable()) running.join();
}

void background_job::run() noexcept {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return requested_ || stopping_; });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    job_();
    lock.lock();
  }
}

}  // namespace tessel::detail
