// Checkpoint files (include/tessel/checkpoint.hpp): export streams a snapshot's cursor into frames; import
// reads the file once, checking each frame before it puts the frame's entries, and empties the store again
// when it finds damage. Layout: store/checkpoint_format.hpp, docs/format.md §Checkpoint file.
#include "tessel/checkpoint.hpp"

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "tessel/function_ref.hpp"
#include "tessel/limits.hpp"

#include "common/checksum.hpp"
#include "common/file_io.hpp"
#include "common/le_codec.hpp"
#include "common/wall_clock.hpp"
#include "store/checkpoint_format.hpp"
#include "store/store_impl.hpp"

namespace tessel {

namespace {

using detail::checkpoint_header_bytes;
using detail::checkpoint_trailer_bytes;
using detail::entry_head_bytes;
using detail::frame_head_bytes;

/// The largest payload a frame may have: one entry of the largest key and value.
constexpr std::uint64_t max_frame_payload = entry_head_bytes + max_key_size + max_value_size;

/// Seals frames (their checksum) and writes them at given offsets of a file on a thread of its own, so the
/// export's walk and copying go on while earlier frames are summed and the kernel copies them into the page
/// cache (on two or more cores they overlap; on one they take turns, as without it). The walk is the slow
/// side -- every leaf a cache miss -- so the checksum moved here; up to `max_queued` frames wait, so a
/// frame that takes the writer longer than usual does not stop the walk.
class background_writer {
 public:
  background_writer(int fd, const std::string& path) : fd_(fd), path_(path), thread_([this] { run(); }) {}
  background_writer(const background_writer&) = delete;
  background_writer& operator=(const background_writer&) = delete;
  ~background_writer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  /// Queues the frame in the first `size` bytes of `bytes` (to seal and write at `offset`), once fewer than
  /// max_queued are, and gives back a written buffer for reuse (or an empty one). Errors: an earlier
  /// write's (io_error, no_space); `bytes` is then kept.
  result<void> submit(std::vector<std::byte>& bytes, std::size_t size, std::uint64_t offset) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return queued_.size() + (writing_ ? 1 : 0) < max_queued || failed_; });
    if (failed_) return tl::unexpected(*failed_);
    queued_.push_back({std::move(bytes), size, offset});
    if (spare_.empty()) {
      bytes = {};
    } else {
      bytes = std::move(spare_.back());
      spare_.pop_back();
    }
    lock.unlock();
    wake_.notify_one();
    return {};
  }
  /// Waits until every queued frame is written. Errors: as submit.
  result<void> finish() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return (queued_.empty() && !writing_) || failed_; });
    if (failed_) return tl::unexpected(*failed_);
    return {};
  }

 private:
  static constexpr std::size_t max_queued = 3;  // frames queued or being written

  struct frame_job {
    std::vector<std::byte> bytes;
    std::size_t size;
    std::uint64_t offset;
  };

  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return !queued_.empty() || stopping_; });
      if (queued_.empty()) return;
      frame_job job = std::move(queued_.front());
      queued_.pop_front();
      writing_ = true;
      lock.unlock();
      const auto frame = std::span<std::byte>(job.bytes).first(job.size);
      store_le<std::uint64_t>(frame.data() + 8, checksum64(frame.subspan(frame_head_bytes)));
      auto ok = pwrite_full(fd_, frame, job.offset, path_);
      lock.lock();
      writing_ = false;
      if (!ok && !failed_) failed_ = ok.error();
      try {
        spare_.push_back(std::move(job.bytes));
      } catch (...) {
        // The buffer is freed instead of reused.
      }
      done_.notify_all();
    }
  }

  int fd_;
  std::string path_;
  std::mutex mutex_;
  std::condition_variable wake_;  // a frame to write, or stop
  std::condition_variable done_;  // a frame was written
  std::deque<frame_job> queued_;
  std::vector<std::vector<std::byte>> spare_;  // written buffers, for submit to hand back
  bool writing_ = false;
  bool stopping_ = false;
  std::optional<error> failed_;
  std::thread thread_;  // last: starts once everything it reads is built
};

/// Appends frames to the file being exported; full frames go to a background_writer. A frame is built in
/// a buffer sized once (grown only for an entry that does not fit), its first `used_` bytes the frame: a
/// vector resized per entry would zero every byte before the copy overwrote it.
class frame_writer {
 public:
  frame_writer(int fd, const std::string& path) : fd_(fd), path_(path), writer_(fd, path) {
    buffer_.resize(frame_capacity);
  }

  result<void> add(key_view key, value_view value) {
    const std::size_t bytes = entry_head_bytes + key.size() + value.size();
    if (buffer_.size() - used_ < bytes) buffer_.resize(used_ + bytes);
    std::byte* p = buffer_.data() + used_;
    store_le<std::uint32_t>(p, static_cast<std::uint32_t>(key.size()));
    store_le<std::uint32_t>(p + 4, static_cast<std::uint32_t>(value.size()));
    if (!key.empty()) std::memcpy(p + entry_head_bytes, key.data(), key.size());
    if (!value.empty()) std::memcpy(p + entry_head_bytes + key.size(), value.data(), value.size());
    used_ += bytes;
    ++entries_in_frame_;
    if (used_ - frame_head_bytes >= detail::frame_target_bytes) return flush_frame();
    return {};
  }

  /// Sends the frame being filled to the writer, if it holds anything.
  result<void> flush_frame() {
    const std::size_t payload = used_ - frame_head_bytes;
    if (payload == 0) return {};
    store_le<std::uint32_t>(buffer_.data(), static_cast<std::uint32_t>(payload));
    store_le<std::uint32_t>(buffer_.data() + 4, entries_in_frame_);  // the writer adds the checksum
    const std::uint64_t at = offset_;
    if (auto ok = writer_.submit(buffer_, used_, at); !ok) return ok;
    offset_ += used_;
    ++frames_;
    entries_in_frame_ = 0;
    // buffer_ is now the previous frame's (or, the first time, an empty one).
    if (buffer_.size() < frame_capacity) buffer_.resize(frame_capacity);
    used_ = frame_head_bytes;
    return {};
  }

  /// Writes `bytes` after every frame sent so far, and waits until all of it is written.
  result<void> write(std::span<const std::byte> bytes) {
    if (auto ok = writer_.finish(); !ok) return ok;
    if (auto ok = pwrite_full(fd_, bytes, offset_, path_); !ok) return ok;
    offset_ += bytes.size();
    return {};
  }

  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }

 private:
  int fd_;
  std::string path_;
  /// Room for a frame of the target size and the entry that ends it, unless that entry is large.
  static constexpr std::size_t frame_capacity = frame_head_bytes + detail::frame_target_bytes + entry_head_bytes + 1024;

  std::vector<std::byte> buffer_;        // frame head, then the payload so far
  std::size_t used_ = frame_head_bytes;  // bytes of buffer_ the frame holds
  std::uint32_t entries_in_frame_ = 0;
  std::uint64_t offset_ = checkpoint_header_bytes;  // the header is written last
  std::uint64_t frames_ = 0;
  background_writer writer_;
};

/// Deletes the file it names unless disarmed: a failed export leaves nothing behind.
class remove_on_failure {
 public:
  explicit remove_on_failure(std::string path) : path_(std::move(path)) {}
  remove_on_failure(const remove_on_failure&) = delete;
  remove_on_failure& operator=(const remove_on_failure&) = delete;
  ~remove_on_failure() {
    if (armed_) ::unlink(path_.c_str());
  }
  void disarm() noexcept { armed_ = false; }

 private:
  std::string path_;
  bool armed_ = true;
};

/// Reads and checks the whole file, handing each entry to `sink` once its frame has passed its checks.
result<checkpoint_info> scan_file(int fd, const std::string& path,
                                  function_ref<result<void>(key_view, value_view)> sink,
                                  const checkpoint_progress& progress) {
  auto size = file_size(fd, path);
  if (!size) return tl::unexpected(std::move(size.error()));
  const std::string what = "checkpoint " + path;
  if (*size < checkpoint_header_bytes + frame_head_bytes + checkpoint_trailer_bytes) {
    return make_error(errc::corruption, what + " is " + std::to_string(*size) + " bytes: too short to be one");
  }
  std::array<std::byte, checkpoint_header_bytes> head_bytes{};
  if (auto ok = pread_full(fd, head_bytes, 0, path); !ok) return tl::unexpected(std::move(ok.error()));
  auto header = detail::decode_header(head_bytes, what);
  if (!header) return tl::unexpected(std::move(header.error()));

  checkpoint_info info;
  info.at_seq = header->at_seq;
  info.created_unix_ns = header->created_unix_ns;
  info.file_bytes = *size;
  std::uint64_t offset = checkpoint_header_bytes;
  std::uint64_t frames = 0;
  std::vector<std::byte> payload;
  std::string previous_key;
  bool first_key = true;
  auto damaged = [&](const std::string& why) {
    return make_error(errc::corruption, what + ": " + why + " (frame " + std::to_string(frames) + " at offset " +
                                            std::to_string(offset) + ")");
  };
  while (true) {
    if (offset + frame_head_bytes + checkpoint_trailer_bytes > *size) return damaged("the file ends inside the frames");
    std::array<std::byte, frame_head_bytes> frame_head{};
    if (auto ok = pread_full(fd, frame_head, offset, path); !ok) return tl::unexpected(std::move(ok.error()));
    const auto payload_bytes = load_le<std::uint32_t>(frame_head.data());
    const auto entries = load_le<std::uint32_t>(frame_head.data() + 4);
    const auto sum = load_le<std::uint64_t>(frame_head.data() + 8);
    if (payload_bytes == 0) {
      if (entries != 0 || sum != 0) return damaged("a damaged end frame");
      break;
    }
    if (payload_bytes > max_frame_payload) return damaged("a frame larger than any entry allows");
    if (offset + frame_head_bytes + payload_bytes + frame_head_bytes + checkpoint_trailer_bytes > *size) {
      return damaged("the file ends inside a frame");
    }
    payload.resize(payload_bytes);
    if (auto ok = pread_full(fd, payload, offset + frame_head_bytes, path); !ok) {
      return tl::unexpected(std::move(ok.error()));
    }
    if (checksum64(payload) != sum) return damaged("a frame fails its checksum");
    std::size_t at = 0;
    for (std::uint32_t i = 0; i < entries; ++i) {
      if (payload.size() - at < entry_head_bytes) return damaged("an entry runs past its frame");
      const auto key_size = load_le<std::uint32_t>(payload.data() + at);
      const auto value_size = load_le<std::uint32_t>(payload.data() + at + 4);
      if (key_size > max_key_size || value_size > max_value_size) return damaged("an entry over the size limits");
      if (payload.size() - at - entry_head_bytes < std::uint64_t{key_size} + value_size) {
        return damaged("an entry runs past its frame");
      }
      const key_view key(payload.data() + at + entry_head_bytes, key_size);
      const value_view value(payload.data() + at + entry_head_bytes + key_size, value_size);
      // Strictly ascending keys: a reordered, repeated or spliced file is damage, not data.
      if (!first_key && compare(key, as_bytes(previous_key)) <= 0) return damaged("keys out of order");
      previous_key.assign(as_string_view(key));
      first_key = false;
      if (auto ok = sink(key, value); !ok) return tl::unexpected(std::move(ok.error()));
      ++info.keys;
      info.data_bytes += key_size + value_size;
      at += entry_head_bytes + key_size + value_size;
    }
    if (at != payload.size()) return damaged("bytes after the frame's last entry");
    offset += frame_head_bytes + payload_bytes;
    ++frames;
    if (progress) progress(info.keys, offset);
  }
  offset += frame_head_bytes;
  if (offset + checkpoint_trailer_bytes != *size) return damaged("bytes after the end frame are not one trailer");
  std::array<std::byte, checkpoint_trailer_bytes> tail{};
  if (auto ok = pread_full(fd, tail, offset, path); !ok) return tl::unexpected(std::move(ok.error()));
  auto trailer = detail::decode_trailer(tail, detail::header_checksum_of(head_bytes), what);
  if (!trailer) return tl::unexpected(std::move(trailer.error()));
  if (trailer->keys != info.keys || trailer->data_bytes != info.data_bytes || trailer->frames != frames ||
      header->keys != info.keys || header->data_bytes != info.data_bytes) {
    return make_error(errc::corruption, what + ": the header and trailer count " + std::to_string(header->keys) +
                                            " and " + std::to_string(trailer->keys) + " entries, the frames hold " +
                                            std::to_string(info.keys));
  }
  return info;
}

result<unique_fd> open_checkpoint(const std::string& path) {
  auto fd = open_file(path, O_RDONLY);
  if (!fd && fd.error().code() == errc::not_found) return make_error(errc::not_found, "no checkpoint file " + path);
  return fd;
}

}  // namespace

result<checkpoint_info> export_checkpoint(const snapshot& snap, const std::string& path,
                                          const export_options& options) noexcept {
  const checkpoint_progress& progress = options.progress;
  if (!snap.valid()) return make_error(errc::invalid_argument, "export of an empty snapshot handle");
  try {
    // O_EXCL refuses an existing file; the check first only gives that case its own error.
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      return make_error(errc::invalid_argument, path + " exists; a checkpoint is a new file");
    }
    auto fd = open_file(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!fd) return tl::unexpected(std::move(fd.error()));
    remove_on_failure cleanup(path);
    frame_writer out(fd->get(), path);
    checkpoint_info info;
    info.at_seq = snap.at_seq();
    info.created_unix_ns = unix_time_ns();
    cursor c = snap.new_cursor();
    for (c.seek_to_first(); c.valid(); c.next()) {
      if (auto ok = out.add(c.key(), c.value()); !ok) return tl::unexpected(std::move(ok.error()));
      ++info.keys;
      info.data_bytes += c.key().size() + c.value().size();
      if (progress && info.keys % 65536 == 0) progress(info.keys, out.offset());
    }
    if (auto ok = out.flush_frame(); !ok) return tl::unexpected(std::move(ok.error()));
    const std::array<std::byte, frame_head_bytes> end_frame{};
    if (auto ok = out.write(end_frame); !ok) return tl::unexpected(std::move(ok.error()));
    std::array<std::byte, checkpoint_header_bytes> head{};
    detail::encode_header({info.at_seq, info.keys, info.data_bytes, info.created_unix_ns}, head);
    std::array<std::byte, checkpoint_trailer_bytes> tail{};
    detail::encode_trailer({info.keys, info.data_bytes, out.frames()}, detail::header_checksum_of(head), tail);
    if (auto ok = out.write(tail); !ok) return tl::unexpected(std::move(ok.error()));
    if (auto ok = pwrite_full(fd->get(), head, 0, path); !ok) return tl::unexpected(std::move(ok.error()));
    if (options.sync && ::fdatasync(fd->get()) != 0) return tl::unexpected(file_errno_error(errno, "syncing " + path));
    info.file_bytes = out.offset();
    if (progress) progress(info.keys, info.file_bytes);
    cleanup.disarm();
    return info;
  } catch (...) {
    return make_error(errc::no_memory, "exporting a checkpoint to " + path);
  }
}

result<checkpoint_info> read_checkpoint_info(const std::string& path) noexcept {
  try {
    auto fd = open_checkpoint(path);
    if (!fd) return tl::unexpected(std::move(fd.error()));
    auto size = file_size(fd->get(), path);
    if (!size) return tl::unexpected(std::move(size.error()));
    const std::string what = "checkpoint " + path;
    if (*size < checkpoint_header_bytes + frame_head_bytes + checkpoint_trailer_bytes) {
      return make_error(errc::corruption, what + " is " + std::to_string(*size) + " bytes: too short to be one");
    }
    std::array<std::byte, checkpoint_header_bytes> head{};
    if (auto ok = pread_full(fd->get(), head, 0, path); !ok) return tl::unexpected(std::move(ok.error()));
    auto header = detail::decode_header(head, what);
    if (!header) return tl::unexpected(std::move(header.error()));
    std::array<std::byte, checkpoint_trailer_bytes> tail{};
    if (auto ok = pread_full(fd->get(), tail, *size - checkpoint_trailer_bytes, path); !ok) {
      return tl::unexpected(std::move(ok.error()));
    }
    auto trailer = detail::decode_trailer(tail, detail::header_checksum_of(head), what);
    if (!trailer) return tl::unexpected(std::move(trailer.error()));
    return checkpoint_info{header->at_seq, header->keys, header->data_bytes, *size, header->created_unix_ns};
  } catch (...) {
    return make_error(errc::no_memory, "reading checkpoint " + path);
  }
}

result<checkpoint_info> import_checkpoint(const std::string& path, store& into,
                                          const checkpoint_progress& progress) noexcept {
  if (!into.is_empty()) return make_error(errc::invalid_argument, "import into a store that is not empty");
  // One pass: a frame's checksum and bounds are checked before its entries go in, the key order as they
  // do. Whatever fails after some entries went in -- a later frame, an entry out of order, a trailer that
  // disagrees, no room -- leaves `into` empty again, as it came. (A first pass that checked the whole file
  // before anything went in cost 15-20% of an import.)
  //
  // The tree is built bottom-up from the file's ordered keys (index/art_sorted_loader.hpp): each node made
  // once at its final kind, leaves in key order; a failure frees what was built. A durable store logs
  // nothing and commits at the end (the checkpoint below), so a crash during the import leaves it empty.
  // A pmem store takes puts instead, emptied again by a clear on failure: its checkpoint policy bounds the
  // reservations not yet published, which a tree that exists only once the last key is read would not.
  detail::store_impl& impl = detail::store_access::impl(into);
  auto info = [&]() -> result<checkpoint_info> {
    try {
      auto fd = open_checkpoint(path);
      if (!fd) return tl::unexpected(std::move(fd.error()));
      if (impl.pool() != nullptr) {
        return scan_file(
            fd->get(), path, [&](key_view k, value_view v) { return into.put(k, v, durability::none); }, progress);
      }
      result<checkpoint_info> scanned;
      auto loaded = impl.load_sorted([&](detail::store_impl::sorted_sink sink) -> result<void> {
        scanned = scan_file(fd->get(), path, sink, progress);
        if (!scanned) return tl::unexpected(scanned.error());
        return {};
      });
      if (!loaded) return tl::unexpected(std::move(loaded.error()));
      return scanned;
    } catch (...) {
      return make_error(errc::no_memory, "importing checkpoint " + path);
    }
  }();
  if (!info) {
    // Only a pmem store's puts can leave entries behind. When even this clear fails (a pool out of space),
    // the error's no_space says to discard the store.
    if (!into.is_empty()) (void)into.clear();
    return info;
  }
  if (auto ok = into.checkpoint(); !ok) return tl::unexpected(std::move(ok.error()));
  return info;
}

}  // namespace tessel
