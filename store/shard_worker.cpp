#include "store/shard_worker.hpp"

#include <utility>

namespace tessel::detail {

shard_worker::shard_worker(store& shard, std::mutex& shard_lock, durability level, std::size_t queue_capacity,
                           std::function<result<void>()> on_start)
    : shard_(shard),
      shard_lock_(shard_lock),
      level_(level),
      capacity_(queue_capacity == 0 ? 1 : queue_capacity),
      thread_([this, f = std::move(on_start)] { run(f); }) {}

shard_worker::~shard_worker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void shard_worker::enqueue(request r) {
  std::unique_lock lock(mutex_);
  space_.wait(lock, [&] { return queue_.size() < capacity_; });
  queue_.push_back(std::move(r));
  const bool first = queue_.size() == 1;
  lock.unlock();
  if (first) work_.notify_one();  // the worker sleeps only on an empty queue
}

std::future<result<void>> shard_worker::put(key_view key, value_view value) {
  request r;
  r.key.assign(as_string_view(key));
  r.value.assign(as_string_view(value));
  auto done = r.put_done.get_future();
  enqueue(std::move(r));
  return done;
}

std::future<result<bool>> shard_worker::erase(key_view key) {
  request r;
  r.erase = true;
  r.key.assign(as_string_view(key));
  auto done = r.erase_done.get_future();
  enqueue(std::move(r));
  return done;
}

void shard_worker::run(const std::function<result<void>()>& on_start) {
  const result<void> started = on_start ? on_start() : result<void>{};
  std::vector<request> batch;
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, nothing left
    batch.swap(queue_);
    lock.unlock();
    space_.notify_all();
    if (started) {
      std::lock_guard shard_lock(shard_lock_);
      apply(batch);
    } else {
      for (request& r : batch) {
        if (r.erase) {
          r.erase_done.set_value(tl::unexpected(started.error()));
        } else {
          r.put_done.set_value(tl::unexpected(started.error()));
        }
      }
    }
    batch.clear();
    lock.lock();
  }
}

void shard_worker::apply(std::vector<request>& batch) {
  // Applied without a sync each; one sync makes the whole batch durable, then one publish makes it visible
  // to readers of the published version.
  for (request& r : batch) {
    if (r.erase) {
      r.erase_result = shard_.erase(as_bytes(r.key), durability::none);
    } else {
      r.put_result = shard_.put(as_bytes(r.key), as_bytes(r.value), durability::none);
    }
  }
  result<void> made_durable;
  if (level_ == durability::log) made_durable = shard_.flush();
  if (level_ == durability::sync) made_durable = shard_.checkpoint();
  if (made_durable) made_durable = shard_.publish();
  for (request& r : batch) {
    if (r.erase) {
      r.erase_done.set_value(r.erase_result && !made_durable ? tl::unexpected(made_durable.error())
                                                             : std::move(r.erase_result));
    } else {
      r.put_done.set_value(r.put_result && !made_durable ? tl::unexpected(made_durable.error())
                                                         : std::move(r.put_result));
    }
  }
}

}  // namespace tessel::detail
