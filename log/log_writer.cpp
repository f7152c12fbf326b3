// log_writer (log/log_writer.hpp): buffering, rollover, the group-commit leader protocol and poisoning.
//
// The commit protocol, in order, for one leader:
//   0. under mu_: set flushing_; a sync leader with evidence of other writers then waits (the gather, see
//      log_writer.hpp) until their records are appended or the bounded delay ends, releasing mu_ while it
//      waits: appends go on, other syncers wait for this leader, and a writer poisoned meanwhile flushes
//      nothing;
//   1. under mu_: take the buffer and its segment spans (swap), note batch_last = last_seq_;
//   2. without mu_: for each span, if an earlier segment still has unsynced bytes, fdatasync it first (a
//      segment is durable before its successor gets a byte, which scan_log's damage rule relies on); write
//      the span with pwrite into the preallocated space (no allocation, so no ENOSPC on ext4/XFS);
//   3. fdatasync the last segment written (sync_through only): the records and, for the first write into
//      a preallocated extent, the metadata marking it written;
//   4. under mu_: publish written_seq_/durable_seq_ = batch_last, clear flushing_; then wake the waiters
//      with mu_ released (and take it back).
// A failure in 2 or 3 poisons the writer in 4 instead of publishing anything.
#include "log/log_writer.hpp"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <string>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/platform.hpp"

namespace tessel::oplog {

namespace {

/// Waiters poll (log_options::group_commit_spin) only on machines with at least this many cores.
constexpr unsigned spin_min_cpus = 4;

[[nodiscard]] std::uint64_t round_up(std::uint64_t v, std::uint64_t to) noexcept { return (v + to - 1) / to * to; }

// Creates `dir` with mode 0700 (parents with the default mode) and makes its entry durable.
[[nodiscard]] result<void> ensure_directory(const std::filesystem::path& dir) noexcept {
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) return {};
    const std::filesystem::path parent = dir.has_parent_path() ? dir.parent_path() : std::filesystem::path(".");
    std::filesystem::create_directories(parent, ec);
    if (ec) return tl::unexpected(log_errno_error(ec.value(), "creating directory " + parent.string()));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      const int e = errno;
      return tl::unexpected(log_errno_error(e, "creating log directory " + dir.string()));
    }
    return sync_directory(parent);
  } catch (...) {
    return make_error(errc::no_memory, "creating log directory");
  }
}

// True when the segment holds no record: its first record head is zero (or missing). Records are written
// back to back from the header on, so nothing can follow a zero head.
[[nodiscard]] result<bool> segment_is_empty(const std::filesystem::path& path) noexcept {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return tl::unexpected(std::move(fd.error()));
  auto size = file_size(fd->get(), path);
  if (!size) return tl::unexpected(std::move(size.error()));
  if (*size < segment_header_bytes + record_head_bytes) return true;
  std::array<std::byte, record_head_bytes> head{};
  if (auto r = pread_full(fd->get(), head, segment_header_bytes, path); !r) return tl::unexpected(std::move(r.error()));
  return std::all_of(head.begin(), head.end(), [](std::byte b) { return b == std::byte{0}; });
}

[[nodiscard]] result<std::uint64_t> size_of_file(const std::filesystem::path& path) noexcept {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    return tl::unexpected(log_errno_error(e, "examining " + path.string()));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

result<std::unique_ptr<log_writer>> log_writer::open(std::filesystem::path dir, store_id id, std::uint64_t next_seq,
                                                     const log_options& opts) noexcept {
  if (next_seq == 0) return make_error(errc::invalid_argument, "log next_seq must be at least 1");
  if (opts.segment_bytes < segment_header_bytes + record_min_bytes) {
    return make_error(errc::invalid_argument, "log segment_bytes " + std::to_string(opts.segment_bytes) +
                                                  " cannot hold a header and one record");
  }
  try {
    if (auto r = ensure_directory(dir); !r) return tl::unexpected(std::move(r.error()));
    if (auto r = remove_stale_segment_temps(dir); !r) return tl::unexpected(std::move(r.error()));
    auto listed = list_segments(dir);
    if (!listed) return tl::unexpected(std::move(listed.error()));
    std::deque<known_segment> older;
    for (const segment_entry& s : *listed) {
      const bool replaceable = s.first_seq == next_seq;
      if (s.first_seq > next_seq) {
        return make_error(errc::invalid_argument, "log segment " + s.path.string() + " starts after next_seq " +
                                                      std::to_string(next_seq) + "; recover with scan_log first");
      }
      if (replaceable) {
        auto empty = segment_is_empty(s.path);
        if (!empty) return tl::unexpected(std::move(empty.error()));
        if (!*empty) {
          return make_error(errc::invalid_argument,
                            "log segment " + s.path.string() + " already holds records at " + std::to_string(next_seq));
        }
        continue;  // create_segment renames the new one over it
      }
      auto size = size_of_file(s.path);
      if (!size) return tl::unexpected(std::move(size.error()));
      older.push_back({s.first_seq, s.path, *size > segment_header_bytes ? *size - segment_header_bytes : 0});
    }
    const std::uint64_t capacity = round_up(opts.segment_bytes, segment_alignment);
    auto fd = create_segment(dir, id, next_seq, capacity, opts.inject_fault);
    if (!fd) return tl::unexpected(std::move(fd.error()));
    auto current = std::make_shared<open_segment>();
    current->first_seq = next_seq;
    current->path = dir / segment_file_name(next_seq);
    current->fd = std::move(*fd);
    return std::unique_ptr<log_writer>(
        new log_writer(std::move(dir), id, opts, next_seq, std::move(older), std::move(current), capacity));
  } catch (...) {
    return make_error(errc::no_memory, "opening the log writer");
  }
}

log_writer::log_writer(std::filesystem::path dir, store_id id, const log_options& opts, std::uint64_t next_seq,
                       std::deque<known_segment> older, std::shared_ptr<open_segment> current, std::uint64_t capacity)
    : dir_(std::move(dir)),
      id_(id),
      opts_(opts),
      last_seq_(next_seq - 1),
      written_seq_(next_seq - 1),
      durable_seq_(next_seq - 1),
      taken_seq_(next_seq - 1),
      segments_(std::move(older)),
      current_(std::move(current)),
      current_end_(segment_header_bytes),
      current_capacity_(capacity),
      cpus_(opts.assume_cpus != 0 ? opts.assume_cpus : std::thread::hardware_concurrency()) {
  for (const known_segment& s : segments_) retired_bytes_ += s.record_bytes;
  segments_.push_back({current_->first_seq, current_->path, 0});
}

log_writer::~log_writer() = default;

tl::unexpected<error> log_writer::fatal_error() const {
  return make_error(errc::fatal, "log writer failed earlier and must be reopened: " + poisoned_->to_string());
}

std::uint64_t log_writer::capacity_for(std::size_t record_bytes) const noexcept {
  return round_up(std::max<std::uint64_t>(opts_.segment_bytes, segment_header_bytes + record_bytes), segment_alignment);
}

result<void> log_writer::reserve(std::size_t record_bytes) noexcept {
  if (record_bytes > record_max_bytes) {
    return make_error(errc::invalid_argument,
                      "log record of " + std::to_string(record_bytes) + " bytes exceeds the format's limit");
  }
  std::unique_lock lock(mu_);
  if (poisoned_) return fatal_error();
  // The backstop that bounds memory for stores that never sync; waits for a running leader first.
  while (buffer_.size() + record_bytes > opts_.max_buffered_bytes && last_seq_ > written_seq_) {
    if (flushing_) {
      if (gather_until_ != 0) {
        // A gathering leader would otherwise wait out its delay for records that this reserve holds up.
        gather_cut_ = true;
        gathered_.notify_one();
      }
      flushed_.wait(lock);
      continue;
    }
    if (auto r = lead_flush(lock, false); !r) return r;
  }
  if (poisoned_) return fatal_error();
  if (current_end_ + record_bytes > current_capacity_) {
    // Rollover. Creating the file is slow (fallocate, two fsyncs), so it runs without mu_: only this
    // thread changes current_ (REQUIRES: no concurrent reserve/append), and leaders keep their own
    // references to the segments they write.
    const std::uint64_t capacity = capacity_for(record_bytes);
    if (current_end_ == segment_header_bytes) {
      // The current segment is empty (a record bigger than segment_bytes comes first): a new one would
      // have its name, so grow it in place. No leader writes to it: it has no records.
      const std::shared_ptr<open_segment> segment = current_;
      lock.unlock();
      if (auto r = grow_segment(segment->fd.get(), segment->path, capacity, opts_.inject_fault); !r) return r;
      lock.lock();
      current_capacity_ = capacity;
    } else {
      const std::uint64_t first_seq = last_seq_ + 1;
      lock.unlock();
      // Allocate before creating the file: once it exists, installing it must not fail.
      std::shared_ptr<open_segment> next;
      try {
        next = std::make_shared<open_segment>();
        next->first_seq = first_seq;
        next->path = dir_ / segment_file_name(first_seq);
      } catch (...) {
        return make_error(errc::no_memory, "tracking a new log segment");
      }
      auto fd = create_segment(dir_, id_, first_seq, capacity, opts_.inject_fault);
      if (!fd) return tl::unexpected(std::move(fd.error()));
      next->fd = std::move(*fd);
      lock.lock();
      try {
        segments_.push_back({first_seq, next->path, 0});
      } catch (...) {
        // Records from first_seq on may still go into the current segment, so a segment file named
        // first_seq must not stay behind: it would overlap them.
        (void)::unlink(next->path.c_str());
        return make_error(errc::no_memory, "tracking a new log segment");
      }
      // The segment left behind is retired: its record count is final.
      segments_[segments_.size() - 2].record_bytes = current_end_ - segment_header_bytes;
      retired_bytes_ += current_end_ - segment_header_bytes;
      current_ = std::move(next);
      current_end_ = segment_header_bytes;
      current_capacity_ = capacity;
    }
  }
  try {
    // Grow now, so append does not allocate in the common case (a leader's swap may still hand append
    // the smaller spare buffer; append copes).
    buffer_.reserve(buffer_.size() + record_bytes);
    spans_.reserve(spans_.size() + 1);
  } catch (...) {
    return make_error(errc::no_memory, "buffering a log record of " + std::to_string(record_bytes) + " bytes");
  }
  reserved_ = record_bytes;
  return {};
}

std::uint64_t log_writer::append(op_kind kind, key_view key, value_view value) noexcept {
  const std::size_t size = encoded_size(key.size(), value.size());
  std::uint64_t seq = 0;
  bool wake_leader = false;
  {
    const std::lock_guard lock(mu_);
    assert(size <= reserved_ && "append without a reserve() for its size");
    seq = ++last_seq_;
    reserved_ = 0;
    if (!poisoned_) buffer_record(seq, kind, key, value, size);
    // A gathering leader waits for this many records, or for nothing more once the writer is poisoned.
    wake_leader = gather_until_ != 0 && (last_seq_ >= gather_until_ || poisoned_);
  }
  // Hot path: notified after mu_ is released, so the leader does not wake only to block on it.
  if (wake_leader) gathered_.notify_one();
  return seq;
}

void log_writer::buffer_record(std::uint64_t seq, op_kind kind, key_view key, value_view value,
                               std::size_t size) noexcept {
  const std::size_t begin = buffer_.size();
  try {
    buffer_.resize(begin + size);
    if (spans_.empty() || spans_.back().segment != current_) {
      spans_.push_back({current_, current_end_, begin, 0, seq});
    }
  } catch (...) {
    buffer_.resize(begin);
    poisoned_ = error(errc::no_memory, "buffering log record " + std::to_string(seq));
    return;
  }
  encode_record(std::span(buffer_).subspan(begin, size), seq, kind, key, value);
  spans_.back().length += size;
  spans_.back().last_seq = seq;
  current_end_ += size;
}

result<void> log_writer::sync_through(std::uint64_t seq) noexcept {
  std::unique_lock lock(mu_);
  if (seq > last_seq_) {
    return make_error(errc::invalid_argument,
                      "sync_through(" + std::to_string(seq) + ") past the last record " + std::to_string(last_seq_));
  }
  if (poisoned_) return fatal_error();
  if (durable_seq_ >= seq) return {};
  // Counted while it waits or leads: the evidence of concurrent writers that leaders gather for.
  ++syncers_;
  peak_syncers_ = std::max(peak_syncers_, syncers_);
  auto r = [&]() -> result<void> {
    for (;;) {
      if (poisoned_) return fatal_error();
      if (durable_seq_ >= seq) return {};
      if (!flushing_) {
        // A leader takes everything appended so far, so after it durable_seq_ >= seq.
        if (auto led = lead_flush(lock, true); !led) return led;
        continue;
      }
      if (may_spin_locked() &&
          spin_until(lock, opts_.group_commit_spin, [&] { return poisoned_ || durable_seq_ >= seq || !flushing_; })) {
        continue;
      }
      flushed_.wait(lock);
    }
  }();
  --syncers_;
  return r;
}

result<void> log_writer::write_buffered() noexcept {
  std::unique_lock lock(mu_);
  for (;;) {
    if (poisoned_) return fatal_error();
    if (written_seq_ >= last_seq_) return {};
    if (!flushing_) return lead_flush(lock, false);
    flushed_.wait(lock);
  }
}

result<void> log_writer::lead_flush(std::unique_lock<std::mutex>& lock, bool sync) noexcept {
  flushing_ = true;
  if (sync) gather(lock);
  if (poisoned_) {
    // Poisoned while gathering: an append may have dropped a record that batch_last would cover.
    flushing_ = false;
    flushed_.notify_all();
    return fatal_error();
  }
  flush_buffer_.swap(buffer_);
  flush_spans_.swap(spans_);
  const std::uint64_t batch_last = last_seq_;
  taken_seq_ = batch_last;
  if (sync) {
    last_peak_syncers_ = peak_syncers_;
    peak_syncers_ = syncers_;
  }
  lock.unlock();
  auto r = write_batch(sync);
  // Keep the capacity: this buffer becomes the appenders' spare at the next swap.
  flush_buffer_.clear();
  flush_spans_.clear();
  lock.lock();
  flushing_ = false;
  if (r) {
    written_seq_ = batch_last;
    // Without a final sync, what a rollover inside the batch synced is durable all the same.
    durable_seq_ = std::max(durable_seq_, unsynced_ ? synced_through_ : batch_last);
  } else if (!poisoned_) {
    poisoned_ = r.error();
  }
  // Woken without mu_ held, so the followers do not wake only to block on it: they bring the next round
  // of records, which the next leader's gather waits for.
  lock.unlock();
  flushed_.notify_all();
  lock.lock();
  return r;
}

void log_writer::gather(std::unique_lock<std::mutex>& lock) noexcept {
  // One record from each thread that was in sync_through at once lately, this leader's included: each is a
  // writer that appends again when its sync returns (or already did). Over two batches, because a writer
  // descheduled between its append and its sync_through can miss one batch's count entirely.
  const std::size_t writers = std::max(peak_syncers_, last_peak_syncers_);
  const std::uint64_t until = taken_seq_ + writers;
  if (writers < 2 || last_seq_ >= until) return;
  if (gather_skip_ > 0) {
    --gather_skip_;
    return;
  }
  // Waiting longer than half an fdatasync to save one would cost the leader more than it saves the others.
  const std::chrono::nanoseconds delay =
      std::min<std::chrono::nanoseconds>(opts_.group_commit_max_delay, sync_time_ / 2);
  if (delay <= std::chrono::nanoseconds::zero()) return;
  gather_count_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t before = last_seq_;
  gather_until_ = until;
  gather_cut_ = false;
  const auto gathered = [&] { return last_seq_ >= until || gather_cut_ || poisoned_.has_value(); };
  if (!may_spin_locked() || !spin_until(lock, delay, gathered)) (void)gathered_.wait_for(lock, delay, gathered);
  gather_until_ = 0;
  if (last_seq_ > before) {
    gather_backoff_ = 1;
  } else {
    gather_skip_ = gather_backoff_;
    gather_backoff_ = std::min<std::uint32_t>(gather_backoff_ * 2, 64);
  }
}

bool log_writer::may_spin_locked() const noexcept {
  // Each waiter polls on a core of its own, and one core stays for the leader's fdatasync.
  return opts_.group_commit_spin > std::chrono::microseconds::zero() && cpus_ >= spin_min_cpus && syncers_ < cpus_ - 1;
}

template <class Done>
bool log_writer::spin_until(std::unique_lock<std::mutex>& lock, std::chrono::nanoseconds limit, Done&& done) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.unlock();
    for (int i = 0; i < 32; ++i) cpu_relax();
    lock.lock();
  }
  return true;
}

result<void> log_writer::write_batch(bool sync) noexcept {
  for (const buffered_span& s : flush_spans_) {
    if (unsynced_ && unsynced_ != s.segment) {
      if (auto r = sync_segment(unsynced_); !r) return r;
    }
    const auto bytes = std::span<const std::byte>(flush_buffer_).subspan(s.begin, s.length);
    if (auto r = write_to_segment(s.segment, bytes, s.offset); !r) return r;
    unsynced_ = s.segment;
    unsynced_last_ = s.last_seq;
  }
  if (sync && unsynced_) return sync_segment(unsynced_);
  return {};
}

result<void> log_writer::write_to_segment(const std::shared_ptr<open_segment>& segment,
                                          std::span<const std::byte> bytes, std::uint64_t offset) noexcept {
  if (const int e = injected_fault(opts_.inject_fault, fault_point::write); e != 0) {
    return tl::unexpected(log_errno_error(e, "writing " + segment->path.string()));
  }
  if (opts_.simulate_power_loss) {
    try {
      held_.push_back({segment, offset, std::vector<std::byte>(bytes.begin(), bytes.end())});
    } catch (...) {
      return make_error(errc::no_memory, "holding back a simulated write");
    }
    return {};
  }
  return pwrite_full(segment->fd.get(), bytes, offset, segment->path);
}

result<void> log_writer::sync_segment(const std::shared_ptr<open_segment>& segment) noexcept {
  // Held writes all belong to `segment`: an earlier segment is synced before a later one is written.
  for (const held_write& w : held_) {
    if (auto r = pwrite_full(w.segment->fd.get(), w.bytes, w.offset, w.segment->path); !r) return r;
  }
  held_.clear();
  sync_count_.fetch_add(1, std::memory_order_relaxed);
  const auto start = std::chrono::steady_clock::now();
  int e = injected_fault(opts_.inject_fault, fault_point::sync);
  if (e == 0 && ::fdatasync(segment->fd.get()) != 0) e = errno;
  // For the gather's bound: an average that follows the device within a few syncs.
  const std::chrono::nanoseconds took = std::chrono::steady_clock::now() - start;
  sync_time_ = sync_time_ == std::chrono::nanoseconds::zero() ? took : sync_time_ + (took - sync_time_) / 8;
  if (e != 0) return tl::unexpected(log_errno_error(e, "syncing " + segment->path.string()));
  unsynced_.reset();
  synced_through_ = unsynced_last_;
  return {};
}

result<void> log_writer::drop_through(std::uint64_t seq) noexcept {
  const std::lock_guard drop_lock(drop_mu_);
  std::vector<known_segment> doomed;
  {
    const std::lock_guard lock(mu_);
    try {
      // segments_[1].first_seq - 1 is the last seq segments_[0] can hold; the current segment (back) stays.
      while (segments_.size() >= 2 && segments_[1].first_seq - 1 <= seq) {
        doomed.push_back(std::move(segments_.front()));
        segments_.pop_front();
        retired_bytes_ -= doomed.back().record_bytes;
      }
    } catch (...) {
      return make_error(errc::no_memory, "dropping log segments");
    }
  }
  if (doomed.empty()) return {};
  for (std::size_t i = 0; i < doomed.size(); ++i) {
    if (::unlink(doomed[i].path.c_str()) == 0 || errno == ENOENT) continue;
    const int e = errno;
    // Put back what is still on disk, in order; only drop_through removes from the front, and we hold
    // drop_mu_, so the front is where they belong.
    const std::lock_guard lock(mu_);
    for (std::size_t j = doomed.size(); j > i; --j) {
      retired_bytes_ += doomed[j - 1].record_bytes;
      segments_.push_front(std::move(doomed[j - 1]));
    }
    return tl::unexpected(log_errno_error(e, "deleting log segment " + doomed[i].path.string()));
  }
  return sync_directory(dir_);
}

std::uint64_t log_writer::last_seq() const noexcept {
  const std::lock_guard lock(mu_);
  return last_seq_;
}

std::uint64_t log_writer::durable_seq() const noexcept {
  const std::lock_guard lock(mu_);
  return durable_seq_;
}

std::uint64_t log_writer::retained_bytes() const noexcept {
  const std::lock_guard lock(mu_);
  return retired_bytes_ + (current_end_ - segment_header_bytes);
}

std::size_t log_writer::buffered_bytes() const noexcept {
  const std::lock_guard lock(mu_);
  return buffer_.size();
}

std::size_t log_writer::segment_count() const noexcept {
  const std::lock_guard lock(mu_);
  return segments_.size();
}

void log_writer::abandon(std::size_t keep_unsynced_bytes) noexcept {
  const std::lock_guard lock(mu_);
  std::size_t left = keep_unsynced_bytes;
  auto keep = [&left](const std::shared_ptr<open_segment>& segment, std::span<const std::byte> bytes,
                      std::uint64_t offset) {
    const std::size_t n = std::min(left, bytes.size());
    // A test hook imitating a crash: a failed write only means fewer bytes survive.
    if (n != 0) (void)pwrite_full(segment->fd.get(), bytes.first(n), offset, segment->path);
    left -= n;
  };
  for (const held_write& w : held_) keep(w.segment, w.bytes, w.offset);
  for (const buffered_span& s : spans_) {
    keep(s.segment, std::span<const std::byte>(buffer_).subspan(s.begin, s.length), s.offset);
  }
  held_.clear();
  buffer_.clear();
  spans_.clear();
  unsynced_.reset();
  if (!poisoned_) poisoned_ = error(errc::fatal, "log writer was abandoned");
}

}  // namespace tessel::oplog
