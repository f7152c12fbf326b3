#include "store/reader_epochs.hpp"

#include <new>

#include "common/platform.hpp"

namespace tessel::detail {

namespace {

struct alignas(cache_line_size) reader_record {
  std::atomic<std::uint64_t> announced{0};  // 0: not pinned
  std::atomic<bool> taken{false};
  reader_record* next = nullptr;  // immutable once the record is on the list
};

std::atomic<std::uint64_t> global_epoch{1};
std::atomic<reader_record*> records{nullptr};
/// Pinned threads that could not get a record (no memory for one): while any is, nothing is freed.
std::atomic<std::uint64_t> unrecorded{0};

/// The calling thread's record, taken on first use (a free one, else a new one pushed on the list) and
/// handed back when the thread exits. Never freed: a later thread takes it again.
struct thread_slot {
  reader_record* record = nullptr;
  unsigned depth = 0;
  ~thread_slot() {
    if (record != nullptr) {
      record->announced.store(0, std::memory_order_release);
      record->taken.store(false, std::memory_order_release);
    }
  }
  /// Null only when there is no memory for a new record.
  reader_record* get() noexcept {
    if (record != nullptr) return record;
    for (reader_record* r = records.load(std::memory_order_acquire); r != nullptr; r = r->next) {
      bool expected = false;
      if (r->taken.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return record = r;
    }
    auto* fresh = new (std::nothrow) reader_record;
    if (fresh == nullptr) return nullptr;
    fresh->taken.store(true, std::memory_order_relaxed);
    fresh->next = records.load(std::memory_order_relaxed);
    while (!records.compare_exchange_weak(fresh->next, fresh, std::memory_order_release, std::memory_order_relaxed)) {
    }
    return record = fresh;
  }
};

thread_local thread_slot slot;

}  // namespace

reader_epochs::pin::pin() noexcept {
  if (slot.depth++ != 0) return;
  // seq_cst: the announcement must be visible before this thread reads the pointer it protects.
  if (reader_record* r = slot.get()) {
    r->announced.store(global_epoch.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  } else {
    unrecorded.fetch_add(1, std::memory_order_seq_cst);
  }
}

reader_epochs::pin::~pin() {
  if (--slot.depth != 0) return;
  if (slot.record != nullptr) {
    slot.record->announced.store(0, std::memory_order_release);
  } else {
    unrecorded.fetch_sub(1, std::memory_order_release);
  }
}

std::uint64_t reader_epochs::advance() noexcept { return global_epoch.fetch_add(1, std::memory_order_seq_cst); }

std::uint64_t reader_epochs::oldest_pinned() noexcept {
  if (unrecorded.load(std::memory_order_seq_cst) != 0) return 0;
  std::uint64_t oldest = UINT64_MAX;
  for (reader_record* r = records.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    const std::uint64_t e = r->announced.load(std::memory_order_seq_cst);
    if (e != 0 && e < oldest) oldest = e;
  }
  return oldest;
}

}  // namespace tessel::detail
