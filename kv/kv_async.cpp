// The async facade of kv_store: each call runs the synchronous one on the store's task pool
// (kv/task_pool.hpp) and completes a future (or calls back) with its result.
#include <exception>
#include <memory>
#include <utility>

#include "tessel/kv_store.hpp"

#include "kv/kv_impl.hpp"

namespace tessel {

namespace {

/// Runs `call` on the pool and returns the future of its result; a closed store, or no memory to queue
/// the call, answers at once.
template <class T, class Call>
std::future<result<T>> run_async(detail::kv_impl& impl, Call call) noexcept {
  try {
    auto done = std::make_shared<std::promise<result<T>>>();
    auto future = done->get_future();
    if (auto ok = detail::check_open(impl); !ok) {
      done->set_value(tl::unexpected(std::move(ok.error())));
      return future;
    }
    impl.tasks->post([done, call = std::move(call)]() mutable { done->set_value(call()); });
    return future;
  } catch (...) {
    std::promise<result<T>> failed;
    failed.set_value(make_error(errc::no_memory, "queueing an async call"));
    return failed.get_future();
  }
}

}  // namespace

std::future<result<kv_entry>> kv_store::get_async(std::string key) noexcept {
  return run_async<kv_entry>(*impl_, [this, key = std::move(key)] { return get(key); });
}

std::future<result<std::uint64_t>> kv_store::set_async(std::string key, std::string value) noexcept {
  return run_async<std::uint64_t>(*impl_,
                                  [this, key = std::move(key), value = std::move(value)] { return set(key, value); });
}

std::future<result<std::uint64_t>> kv_store::erase_async(std::string key) noexcept {
  return run_async<std::uint64_t>(*impl_, [this, key = std::move(key)] { return erase(key); });
}

std::future<result<std::uint64_t>> kv_store::compare_and_set_async(std::string key, std::uint64_t expected,
                                                                   std::string value) noexcept {
  return run_async<std::uint64_t>(*impl_, [this, key = std::move(key), expected, value = std::move(value)] {
    return compare_and_set(key, expected, value);
  });
}

std::future<result<kv_txn_result>> kv_store::transaction_async(std::vector<kv_op> ops) noexcept {
  return run_async<kv_txn_result>(*impl_, [this, ops = std::move(ops)] { return transaction(ops); });
}

void kv_store::set_async(std::string key, std::string value, std::function<void(result<std::uint64_t>)> done) noexcept {
  // Shared, not moved into the task: a task that cannot be queued (out of memory building or queueing it)
  // is destroyed, and the callback must still be here to hear so. (make_shared allocates before it moves.)
  std::shared_ptr<std::function<void(result<std::uint64_t>)>> callback;
  try {
    callback = std::make_shared<std::function<void(result<std::uint64_t>)>>(std::move(done));
  } catch (...) {
    if (done) done(make_error(errc::no_memory, "queueing an async call"));
    return;
  }
  // An empty callback: the set still runs, and nobody hears of it.
  const auto answer = [](const auto& f, result<std::uint64_t> r) {
    if (*f) (*f)(std::move(r));
  };
  try {
    if (auto ok = detail::check_open(*impl_); !ok) {
      answer(callback, tl::unexpected(std::move(ok.error())));
      return;
    }
    impl_->tasks->post([this, key = std::move(key), value = std::move(value), callback, answer] {
      answer(callback, set(key, value));
    });
  } catch (...) {
    answer(callback, make_error(errc::no_memory, "queueing an async call"));
  }
}

}  // namespace tessel
