// background_job: one job that runs on a thread of its own whenever it is asked for -- work a caller wants
// done soon but must not wait for (a store's policy checkpoint: docs/design.md §Checkpoints). Requests
// made while the job runs, or before it starts, fold into one more run.
//
// The thread starts at the first request, so an object that is never asked costs no thread.
//
// Thread safety: request() and stop() from any thread; the job never runs twice at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace tessel::detail {

class background_job {
 public:
  explicit background_job(std::function<void()> job) noexcept : job_(std::move(job)) {}
  background_job(const background_job&) = delete;
  background_job& operator=(const background_job&) = delete;
  ~background_job() { stop(); }

  /// Asks for one more run of the job. False when it will not run: stop() was called, or the thread could
  /// not be started (the caller then does the work itself).
  [[nodiscard]] bool request() noexcept;
  /// Lets a run in progress end, drops a pending one and joins the thread; later requests answer false.
  /// Idempotent. REQUIRES: not called from the job.
  void stop() noexcept;

 private:
  void run() noexcept;

  const std::function<void()> job_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::thread thread_;      // started by the first request, under mutex_
};

}  // namespace tessel::detail
