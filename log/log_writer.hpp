// log_writer: appends records to the operation log and makes them durable with group commit.
//
// How the store uses it. Under its own writer mutex: reserve(encoded_size(k, v)), apply the write to the
// tree, append(...), which cannot fail for space because reserve made room. Outside that mutex:
// sync_through(seq) to wait until the write is durable. Concurrent sync_through callers share one
// write + fdatasync (group commit): the first becomes the leader, takes the whole in-memory buffer, writes
// and syncs it without holding the writer's mutex, publishes durable_seq and wakes the others; a caller
// whose seq is already durable returns at once.
//
// Gathering. With two writers that each put and then wait, plain leader/follower group commit pays one
// fdatasync per record: the record that arrives during a sync makes its writer the next leader the moment
// that sync ends, while the writer just released is still on its way back with its next record. So a new
// leader first waits, briefly, for the records it has evidence are coming (the gather; lead_flush):
//   - the evidence is how many threads were in sync_through at once during the last two sync batches
//     (each is a writer that will append again); with fewer than two, a leader never waits, so a lone
//     writer pays no added latency;
//   - it waits until that many records are buffered since the previous batch (append wakes it the moment
//     they are), and at most min(log_options::group_commit_max_delay, half the measured fdatasync time),
//     so waiting never costs more than half of the fdatasync it saves;
//   - a wait that gathers nothing makes the next 1, 2, 4 ... 64 leaders skip gathering, so misleading
//     evidence (a thread in sync_through that will not append again soon) costs little.
// The same idea as PostgreSQL's commit_delay/commit_siblings and MySQL's binlog_group_commit_sync_delay
// with sync_no_delay_count, but with the delay and the count measured instead of configured.
//
// Waiting. A follower waits for the leader's sync, a gathering leader for the records; where the machine
// has cores to spare, each first polls for a while (log_options::group_commit_spin), since waking a
// sleeping thread costs a good part of an fdatasync on a virtual machine; elsewhere it sleeps at once.
//
// Files. open() always starts a new segment at next_seq; records go into preallocated segments
// (log/segment.hpp), a new one created by reserve when the next record does not fit. Segments found in the
// directory at open are "older" segments: the writer never writes to them and only deletes them
// (drop_through).
//
// Durability, what survives a crash at any point:
//   - every record with seq <= durable_seq(), in order, with nothing missing;
//   - possibly some later records, and possibly a torn record after them, which scan_log reports as damage
//     and never replays (log/log_reader.hpp).
//   A segment's records are all fdatasynced before any byte is written to the next segment, so damage can
//   only ever be followed by empty segments; scan_log relies on this to tell a torn tail from corruption.
//   append() does no I/O: records wait in memory until sync_through or write_buffered writes them, or until
//   reserve finds more than log_options::max_buffered_bytes waiting and writes them itself. Destroying a
//   writer is a crash for whatever it had not written: call sync_through(last_seq()) to close cleanly.
//   A failed write or fdatasync poisons the writer (after a failed fdatasync the page cache may have
//   dropped the dirty pages and reported the error once; retrying could report success for lost data), so
//   every later reserve, sync_through and write_buffered returns errc::fatal naming the original error.
//
// Thread safety: reserve and append must be called by one thread at a time (the store's writer mutex);
// sync_through, write_buffered, drop_through and the accessors are safe from any thread, concurrently with
// each other and with reserve/append. abandon is for tests and requires that no other call is in flight.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"

#include "log/file_io.hpp"
#include "log/record.hpp"
#include "log/segment.hpp"

namespace tessel::oplog {

struct log_options {
  /// Preallocated size of each segment file, rounded up to 4 KiB. A record larger than this gets a segment
  /// sized to fit it. Must hold at least the header and one empty record.
  std::uint64_t segment_bytes = 16ULL << 20;
  /// When reserve finds more than this many bytes waiting in memory, it writes them (no fdatasync) before
  /// returning, so a store that never syncs (durability "none") still has a bounded buffer. A store that
  /// cares about write latency under its mutex calls write_buffered() itself, outside the mutex, earlier.
  std::size_t max_buffered_bytes = 1U << 20;
  /// Tests only: bytes written but not yet synced stay in memory and reach the file only at fdatasync, so
  /// a writer that is destroyed or abandoned leaves exactly the synced bytes on disk, as power loss would.
  bool simulate_power_loss = false;
  /// Group commit gathering (see the file comment): the longest a new sync leader waits for the records of
  /// the other writers it has evidence are about to append, so that one fdatasync covers them. The wait
  /// is also never longer than half the measured fdatasync time, and ends as soon as the records are
  /// there. A lone writer never waits. 0 disables gathering (plain leader/follower group commit).
  std::chrono::microseconds group_commit_max_delay{200};
  /// Before sleeping, a writer waiting for another's fdatasync, or a leader gathering records, polls for up
  /// to this long (a gathering leader: at most its delay) -- on a machine with a core to spare for each
  /// waiter and one more for the sync's own kernel work (spin_min_cpus online, and fewer waiters than
  /// cores). A sleeping thread's wake-up costs 10-40 µs on a virtual machine, much of an NVMe fdatasync;
  /// on fewer cores the poller would hold the core that the sync needs. 0 disables.
  std::chrono::microseconds group_commit_spin{100};
  /// Tests only: the cores group_commit_spin assumes the machine has (0: the cores it has).
  unsigned assume_cpus = 0;
  /// Tests only: see fault_hook (log/file_io.hpp).
  fault_hook inject_fault;
};

class log_writer {
 public:
  /// Opens a writer that appends records from `next_seq` on, in a new segment `<dir>/<next_seq>.tlog`.
  /// Creates `dir` (mode 0700) when it is missing, deletes leftover .tmp files of interrupted segment
  /// creations, and learns the older segments in it (for retained_bytes and drop_through).
  /// REQUIRES: older segments hold only records below next_seq and end cleanly (recovery ran scan_log,
  /// and cut_tail when it reported damage); next_seq = max(report.next_seq, checkpoint seq + 1).
  /// An existing segment named next_seq that holds no record is replaced (a writer that crashed before its
  /// first write leaves one).
  /// Errors: invalid_argument for next_seq 0, segment_bytes too small, or a segment already holding records
  /// at or after next_seq; no_space; io_error; no_memory.
  [[nodiscard]] static result<std::unique_ptr<log_writer>> open(std::filesystem::path dir, store_id id,
                                                                std::uint64_t next_seq,
                                                                const log_options& opts) noexcept;

  log_writer(const log_writer&) = delete;
  log_writer& operator=(const log_writer&) = delete;
  /// Closes the files without writing or syncing anything (see the file comment).
  ~log_writer();

  /// Makes sure the next append of a record of `record_bytes` (encoded_size) fits: when the current
  /// segment's preallocated space, counting records still in memory, cannot take it, creates and
  /// preallocates the next segment now (rollover), sized to fit when the record is larger than
  /// segment_bytes; a current segment that holds no record grows in place instead (the next one would have
  /// its name). Also writes the buffer when it holds more than max_buffered_bytes.
  /// REQUIRES: no concurrent reserve or append.
  /// Errors: invalid_argument (record_bytes above record_max_bytes); no_space (ENOSPC, EDQUOT, EFBIG);
  /// io_error; no_memory; fatal once the writer is poisoned. On error nothing changed, and a later reserve
  /// may succeed (when space returns), except after fatal or a failed buffer write, which poisons.
  [[nodiscard]] result<void> reserve(std::size_t record_bytes) noexcept;

  /// Encodes the record into the in-memory buffer and returns its seq (last_seq() + 1). No I/O.
  /// REQUIRES: a successful reserve(n) with n >= encoded_size(key.size(), value.size()) since the last
  /// append, and no concurrent reserve or append.
  /// Should memory run out while buffering (it cannot in the steady state: reserve grew the buffer), the
  /// writer is poisoned and the record is dropped, so the next sync_through fails and nothing that was
  /// lost is ever reported durable.
  [[nodiscard]] std::uint64_t append(op_kind kind, key_view key, value_view value) noexcept;

  /// Returns once every record with seq <= `seq` is durable (written into its segment and fdatasynced);
  /// at once when it already is. Group commit: see the file comment.
  /// Errors: invalid_argument (seq > last_seq()); io_error or no_space from the write or fdatasync this
  /// call led, which poisons the writer; fatal once poisoned (also for callers waiting on a leader that
  /// failed).
  [[nodiscard]] result<void> sync_through(std::uint64_t seq) noexcept;

  /// Writes every buffered record to its segment without fdatasync (a segment being left behind is still
  /// fdatasynced first; see the file comment). For durability "none": the OS has the bytes, so they
  /// survive a process crash but not power loss.
  /// Errors: io_error, no_space (poison the writer); fatal once poisoned.
  [[nodiscard]] result<void> write_buffered() noexcept;

  /// Deletes, oldest first, every segment file whose records all have seq <= `seq` (the next segment's
  /// first_seq - 1 <= seq), never the current one, then fsyncs the directory. Deleting only a prefix means a
  /// crash part-way leaves a log without holes. Serialized against other drop_through calls.
  /// Errors: io_error (the segments not deleted stay known, so a later call retries them); no_memory.
  [[nodiscard]] result<void> drop_through(std::uint64_t seq) noexcept;

  /// The seq of the last appended record (next_seq - 1 before the first append).
  [[nodiscard]] std::uint64_t last_seq() const noexcept;
  /// Every record with seq <= durable_seq() is durable.
  [[nodiscard]] std::uint64_t durable_seq() const noexcept;
  /// Record bytes in all segments this writer knows, buffered ones included, for the store's checkpoint
  /// policy. Exact for the segments this writer wrote; for older segments found at open, the file size less
  /// the header (an upper bound: they are preallocated, and reading them to find out would cost a scan).
  [[nodiscard]] std::uint64_t retained_bytes() const noexcept;
  /// Bytes appended but not yet handed to the OS.
  [[nodiscard]] std::size_t buffered_bytes() const noexcept;
  /// Segment files this writer knows, the current one included.
  [[nodiscard]] std::size_t segment_count() const noexcept;
  /// How many fdatasync calls the writer made on segments (segment creation's own fsyncs not counted).
  [[nodiscard]] std::uint64_t sync_count() const noexcept { return sync_count_.load(std::memory_order_relaxed); }
  /// How many times a sync leader waited to gather other writers' records (log_options::group_commit_max_delay).
  [[nodiscard]] std::uint64_t gather_count() const noexcept { return gather_count_.load(std::memory_order_relaxed); }

  /// Tests only, to inject a crash between a log write and its sync: writes the first `keep_unsynced_bytes`
  /// of the bytes not yet synced, in log order (with simulate_power_loss, the bytes written but held back
  /// and then the buffered records; otherwise only the buffered records, since written bytes already
  /// reached the OS), discards the rest, and poisons the writer without syncing. Destroy it afterwards.
  /// REQUIRES: no other call in flight.
  void abandon(std::size_t keep_unsynced_bytes) noexcept;

 private:
  struct open_segment {
    std::uint64_t first_seq = 0;
    std::filesystem::path path;
    unique_fd fd;
  };
  /// A run of the buffer that belongs to one segment, from file offset `offset` on.
  struct buffered_span {
    std::shared_ptr<open_segment> segment;
    std::uint64_t offset = 0;
    std::size_t begin = 0;
    std::size_t length = 0;
    std::uint64_t last_seq = 0;  // of the span's last record
  };
  struct known_segment {
    std::uint64_t first_seq = 0;
    std::filesystem::path path;
    std::uint64_t record_bytes = 0;  // the current segment's is current_end_ - header instead
  };
  /// simulate_power_loss: a write held back until its segment's fdatasync.
  struct held_write {
    std::shared_ptr<open_segment> segment;
    std::uint64_t offset = 0;
    std::vector<std::byte> bytes;
  };

  log_writer(std::filesystem::path dir, store_id id, const log_options& opts, std::uint64_t next_seq,
             std::deque<known_segment> older, std::shared_ptr<open_segment> current, std::uint64_t capacity);

  [[nodiscard]] tl::unexpected<error> fatal_error() const;
  /// Runs one flush as leader (a sync leader gathers first). REQUIRES: lock held on mu_, !flushing_;
  /// returns with it held.
  [[nodiscard]] result<void> lead_flush(std::unique_lock<std::mutex>& lock, bool sync) noexcept;
  /// A new sync leader's wait for the records of the other writers (see the file comment).
  /// REQUIRES: lock held on mu_, flushing_ set by this thread; returns with it held.
  void gather(std::unique_lock<std::mutex>& lock) noexcept;
  /// Whether a waiter may poll now (log_options::group_commit_spin). REQUIRES: lock held on mu_.
  [[nodiscard]] bool may_spin_locked() const noexcept;
  /// Polls `done` (under mu_) until it holds or `limit` passes; true when it holds. REQUIRES: lock held on
  /// mu_; returns with it held.
  template <class Done>
  bool spin_until(std::unique_lock<std::mutex>& lock, std::chrono::nanoseconds limit, Done&& done) noexcept;
  /// Encodes a record into buffer_, or poisons the writer when memory runs out. REQUIRES: lock held on mu_.
  void buffer_record(std::uint64_t seq, op_kind kind, key_view key, value_view value, std::size_t size) noexcept;
  /// The leader's I/O, without the mutex.
  [[nodiscard]] result<void> write_batch(bool sync) noexcept;
  [[nodiscard]] result<void> write_to_segment(const std::shared_ptr<open_segment>& segment,
                                              std::span<const std::byte> bytes, std::uint64_t offset) noexcept;
  [[nodiscard]] result<void> sync_segment(const std::shared_ptr<open_segment>& segment) noexcept;
  [[nodiscard]] std::uint64_t capacity_for(std::size_t record_bytes) const noexcept;

  const std::filesystem::path dir_;
  const store_id id_;
  const log_options opts_;

  mutable std::mutex mu_;
  std::condition_variable flushed_;   // signalled when a leader finishes
  std::condition_variable gathered_;  // signalled when a gathering leader has its records or must stop
  // Guarded by mu_.
  std::vector<std::byte> buffer_;
  std::vector<buffered_span> spans_;
  std::uint64_t last_seq_;
  std::uint64_t written_seq_;  // every record <= this was handed to write_to_segment
  std::uint64_t durable_seq_;
  bool flushing_ = false;              // a leader is gathering or writing; only one at a time
  std::uint64_t taken_seq_;            // every record <= this was taken by a leader
  std::size_t syncers_ = 0;            // threads in sync_through whose record is not yet durable
  std::size_t peak_syncers_ = 0;       // most syncers_ at once since the last sync leader took the buffer
  std::size_t last_peak_syncers_ = 0;  // peak_syncers_ of the sync batch before that
  std::uint64_t gather_until_ = 0;     // while a leader gathers, the last_seq_ it waits for; 0 otherwise
  bool gather_cut_ = false;            // reserve needs the gathering leader to flush now
  std::optional<error> poisoned_;
  std::deque<known_segment> segments_;  // by first_seq; back() is the current segment
  std::uint64_t retired_bytes_ = 0;     // record bytes of every segment but the current one
  std::shared_ptr<open_segment> current_;
  std::uint64_t current_end_;       // file offset where the next record goes
  std::uint64_t current_capacity_;  // preallocated size of the current segment
  std::size_t reserved_ = 0;        // record size the last reserve made room for; 0 after append

  // Owned by the leader while flushing_ (handed over under mu_).
  std::vector<std::byte> flush_buffer_;
  std::vector<buffered_span> flush_spans_;
  std::shared_ptr<open_segment> unsynced_;  // the segment with written, not yet fdatasynced bytes, if any
  std::uint64_t unsynced_last_ = 0;         // seq of the last record written to unsynced_
  std::uint64_t synced_through_ = 0;        // every record <= this has been fdatasynced
  std::vector<held_write> held_;            // simulate_power_loss only; all for unsynced_
  std::chrono::nanoseconds sync_time_{0};   // moving average of one fdatasync (the fault hook's time included)
  std::uint32_t gather_skip_ = 0;           // sync leaders still to skip gathering after a fruitless wait
  std::uint32_t gather_backoff_ = 1;        // what the next fruitless wait sets gather_skip_ to
  const unsigned cpus_;                     // online when the writer opened

  std::mutex drop_mu_;  // serializes drop_through
  std::atomic<std::uint64_t> sync_count_{0};
  std::atomic<std::uint64_t> gather_count_{0};
};

}  // namespace tessel::oplog
