#include "kv/watch_hub.hpp"

#include <algorithm>
#include <utility>

#include "common/platform.hpp"

namespace tessel::detail {

namespace {

std::string resume_hint(std::uint64_t seq) { return "resume with watch_options::from_seq = " + std::to_string(seq); }

/// start + wait, saturated: nanoseconds::max(), a common way to say "forever", must not wrap into the past.
std::chrono::steady_clock::time_point deadline(std::chrono::steady_clock::time_point start,
                                               std::chrono::nanoseconds wait) noexcept {
  const auto latest = std::chrono::steady_clock::time_point::max();
  return wait >= latest - start ? latest : start + wait;
}

}  // namespace

// ---- watcher ----

result<std::optional<kv_event>> watcher::next(std::optional<std::chrono::nanoseconds> timeout) noexcept {
  try {
    const auto start = std::chrono::steady_clock::now();
    const auto spin_until = deadline(start, std::min(spin, timeout.value_or(spin)));
    for (unsigned i = 0; queued.load(std::memory_order_acquire) == 0 && !closed.load(std::memory_order_acquire); ++i) {
      cpu_relax();
      if ((i & 63) == 63 && std::chrono::steady_clock::now() >= spin_until) break;
    }
    std::unique_lock lock(mutex);
    while (true) {
      // Closed by its consumer: before the events still buffered, as documented, so that a subscription's
      // close() waits only for the callback in progress, not for the whole buffer (up to `capacity`
      // events, or a replay).
      if (stopped) return make_error(errc::aborted, "the watch is closed");
      if (!events.empty()) {
        kv_event e = std::move(events.front());
        events.pop_front();
        queued.store(events.size(), std::memory_order_release);
        return e;
      }
      if (lagged) {
        if (!lag_reported) {
          lag_reported = true;
          kv_event e;
          e.type = kv_event_type::lagged;
          e.seq = delivered_seq;
          return e;
        }
        return make_error(errc::aborted, "the watch fell behind after seq " + std::to_string(delivered_seq) + "; " +
                                             resume_hint(delivered_seq));
      }
      if (closed.load(std::memory_order_relaxed)) return make_error(errc::aborted, "the watch is closed");
      sleeping = true;
      if (!timeout) {
        ready.wait(lock);
      } else if (ready.wait_until(lock, deadline(start, *timeout)) == std::cv_status::timeout && events.empty() &&
                 !lagged && !closed.load(std::memory_order_relaxed)) {
        sleeping = false;
        return std::optional<kv_event>{};
      }
      sleeping = false;
    }
  } catch (...) {
    return make_error(errc::no_memory, "taking a watch event");
  }
}

void watcher::close(bool drain) noexcept {
  std::lock_guard lock(mutex);
  closed.store(true, std::memory_order_release);
  if (!drain) stopped = true;
  ready.notify_all();
}

// ---- watch_hub ----

bool watch_hub::deliver(watcher& w, std::uint64_t seq, std::span<const change> changes, bool replay) {
  bool wake = false;
  {
    std::lock_guard lock(w.mutex);
    if (w.closed.load(std::memory_order_relaxed) || w.lagged) return false;
    std::size_t matching = 0;
    for (const change& c : changes) matching += w.pattern.matches(c.key) ? 1U : 0U;
    // A commit is buffered whole or not at all, so the seq a lagged event carries is a clean resume point.
    // Replays fill past the capacity: they are bounded by the history, and lagging before going live would
    // only send the subscriber round again.
    if (matching != 0 && !replay && w.events.size() + matching > w.capacity) {
      w.lagged = true;
      wake = w.sleeping;
    } else if (matching != 0) {
      const auto before = static_cast<std::ptrdiff_t>(w.events.size());
      try {
        for (const change& c : changes) {
          if (!w.pattern.matches(c.key)) continue;
          kv_event e;
          e.type = c.type;
          e.key.assign(c.key);
          e.version = c.version;
          if (w.values && c.type != kv_event_type::deleted) e.value.emplace(c.value);
          e.seq = seq;
          w.events.push_back(std::move(e));
        }
      } catch (...) {
        // Out of memory part-way: none of the commit stays, or its consumer would take half of it, then
        // the lagged event (the caller marks it), then all of it again after resuming.
        w.events.erase(w.events.begin() + before, w.events.end());
        throw;
      }
      w.queued.store(w.events.size(), std::memory_order_release);
      wake = w.sleeping;
    }
    if (!w.lagged) w.delivered_seq = seq;
  }
  return wake;
}

void watch_hub::mark_lagged(const std::shared_ptr<watcher>& w,
                            std::vector<std::shared_ptr<watcher>>& to_wake) noexcept {
  bool sleeping = false;
  {
    std::lock_guard lock(w->mutex);
    w->lagged = true;
    sleeping = w->sleeping;
  }
  if (!sleeping) return;
  try {
    to_wake.push_back(w);
  } catch (...) {
    w->ready.notify_one();  // no room to defer it: wake it now, under the shards' locks after all
  }
}

void watch_hub::wake(std::vector<std::shared_ptr<watcher>>& to_wake) noexcept {
  for (const auto& w : to_wake) w->ready.notify_one();
  to_wake.clear();
}

std::uint64_t watch_hub::publish(function_ref<void(std::vector<change>&)> build,
                                 std::vector<std::shared_ptr<watcher>>& to_wake) noexcept {
  std::lock_guard lock(mutex_);
  const std::uint64_t seq = current_.load(std::memory_order_relaxed) + 1;
  std::erase_if(watchers_, [](const auto& w) { return w->closed.load(std::memory_order_acquire); });
  changes_.clear();
  bool described = true;
  if (history_commits_ != 0 || !watchers_.empty()) {
    try {
      build(changes_);
    } catch (...) {
      described = false;
      // Out of memory describing the commit: every watcher lags (it resumes from the history, which
      // cannot hold this commit either, so it gets compacted -- never a silent gap).
      changes_.clear();
      history_.clear(seq);
      for (const auto& w : watchers_) mark_lagged(w, to_wake);
    }
  }
  if (!watchers_.empty()) {
    for (const auto& w : watchers_) {
      try {
        if (deliver(*w, seq, changes_, false)) to_wake.push_back(w);
      } catch (...) {
        mark_lagged(w, to_wake);  // out of memory building its events: it may resume from the history
      }
    }
  }
  if (history_commits_ != 0 && described) {  // an undescribed commit must not look like one without changes
    try {
      history_.append(seq, changes_);
    } catch (...) {
      // The ring is empty: the history must hold consecutive seqs, and this commit is not in it.
    }
  }
  current_.store(seq, std::memory_order_release);
  return seq;
}

result<std::shared_ptr<watcher>> watch_hub::subscribe(watch_pattern pattern, const watch_options& opts) noexcept {
  try {
    std::lock_guard lock(mutex_);
    const std::uint64_t current = current_.load(std::memory_order_relaxed);
    const std::uint64_t from = opts.from_seq.value_or(current);
    if (from > current) {
      return make_error(errc::invalid_argument, "watch from seq " + std::to_string(from) +
                                                    ", after the latest commit (seq " + std::to_string(current) + ")");
    }
    // Without a history nothing before the current seq can be replayed.
    const std::uint64_t oldest = history_commits_ == 0 ? current : history_.complete_after();
    if (from < oldest) {
      return make_error(errc::compacted, "seq " + std::to_string(from) +
                                             " is no longer retained; the oldest seq a watch can resume from is " +
                                             std::to_string(oldest));
    }
    auto w = std::make_shared<watcher>(std::move(pattern), opts);
    w->delivered_seq = from;
    if (from < current) {
      history_.for_each_after(from, [&](std::uint64_t seq, std::span<const change> changes) {
        (void)deliver(*w, seq, changes, true);  // a new watcher: no consumer waits yet
      });
    }
    watchers_.push_back(w);
    return w;
  } catch (...) {
    return make_error(errc::no_memory, "subscribing a watch");
  }
}

watch_hub::saved_span watch_hub::save(std::string& records, std::size_t max_bytes) const {
  std::lock_guard lock(mutex_);
  saved_span out;
  out.last_seq = current_.load(std::memory_order_relaxed);
  // Without a history no commit was kept, so none before the last can be resumed from.
  out.complete_after = history_commits_ == 0 ? out.last_seq : history_.save(records, max_bytes);
  return out;
}

bool watch_hub::restore(std::uint64_t complete_after, std::uint64_t last_seq,
                        std::span<const std::byte> records) noexcept {
  std::lock_guard lock(mutex_);
  if (complete_after > last_seq) return false;
  const std::uint64_t first_seq = current_.load(std::memory_order_relaxed);
  if (history_commits_ != 0) {
    history_.clear(complete_after);
    bool parsed = false;
    try {
      parsed = history_.restore(records, last_seq);
    } catch (...) {
      parsed = false;  // out of memory: as if nothing had been saved
    }
    if (!parsed) {
      history_.clear(first_seq);
      return false;
    }
  }
  // A read-only opening commits nothing: its seqs continue from the saved history's.
  current_.store(std::max(first_seq, last_seq), std::memory_order_release);
  return true;
}

void watch_hub::close_all() noexcept {
  std::lock_guard lock(mutex_);
  for (const auto& w : watchers_) w->close(/*drain=*/true);
  watchers_.clear();
}

}  // namespace tessel::detail
