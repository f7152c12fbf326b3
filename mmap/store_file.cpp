#include "mmap/store_file.hpp"

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errno_error.hpp"
#include "common/file_io.hpp"
#include "common/wall_clock.hpp"

namespace tessel::mmap {

namespace {

[[nodiscard]] mode_t to_mode(std::filesystem::perms p) noexcept { return static_cast<mode_t>(p); }

}  // namespace

bool store_file::exists(const std::filesystem::path& dir) noexcept {
  std::error_code ec;
  return std::filesystem::exists(dir / data_file_name, ec);
}

store_file::store_file(std::filesystem::path dir, int fd, bool read_only) noexcept
    : dir_(std::move(dir)),
      fd_(fd),
      read_only_(read_only),
      slots_{make_error(errc::corruption, "meta slot 0 not read"),
             make_error(errc::corruption, "meta slot 1 not read")} {}

store_file::~store_file() {
  if (fd_ >= 0) ::close(fd_);  // also drops the flock
}

result<std::unique_ptr<store_file>> store_file::create(const std::filesystem::path& dir,
                                                       const create_options& opts) noexcept {
  try {
    if (auto ok = make_store_directory(dir, opts.directory_mode); !ok) return tl::unexpected(std::move(ok.error()));
    const auto creating = lock_store_creation(dir);
    if (!creating) return tl::unexpected(creating.error());
    if (exists(dir)) {
      if (opts.open_if_exists) return open(dir, false);
      return make_error(errc::invalid_argument, "a store already exists in " + dir.string());
    }

    const std::filesystem::path tmp = dir / (std::string(data_file_name) + ".creating");
    const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, to_mode(opts.file_mode));
    if (fd < 0) return tl::unexpected(errno_error(errno, "creating " + tmp.string()));
    auto fail = [&](error e) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return tl::unexpected(std::move(e));
    };
    // The umask must not widen nor narrow what the options ask for.
    if (::fchmod(fd, to_mode(opts.file_mode)) != 0) return fail(errno_error(errno, "setting the store file's mode"));
    superblock s;
    if (::getrandom(s.id.data(), s.id.size(), 0) != static_cast<ssize_t>(s.id.size())) {
      return fail(errno_error(errno, "drawing a store id"));
    }
    s.created_unix_ns = unix_time_ns();
    meta_slot m;
    m.generation = 1;
    m.epoch = 1;
    m.frontier = first_block_offset;
    m.committed_unix_ns = s.created_unix_ns;
    if (const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(first_block_offset)); rc != 0) {
      return fail(errno_error(rc, "sizing " + tmp.string()));
    }
    const page sp = encode_superblock(s);
    const page mp = encode_meta(m);
    if (auto ok = pwrite_full(fd, sp, superblock_offset, tmp); !ok) {
      return fail(ok.error());
    }
    if (auto ok = pwrite_full(fd, mp, meta_offsets[0], tmp); !ok) {
      return fail(ok.error());
    }
    if (::fsync(fd) != 0) return fail(errno_error(errno, "syncing the new store file"));
    ::close(fd);
    const std::filesystem::path final_path = dir / data_file_name;
    // No store file appears until it is whole: a crash before the rename leaves only the temporary name.
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return tl::unexpected(errno_error(e, "renaming the new store file into place"));
    }
    if (auto ok = sync_directory(dir); !ok) return tl::unexpected(ok.error());
    return open(dir, false);
  } catch (...) {
    return make_error(errc::no_memory, "creating a store");
  }
}

result<std::unique_ptr<store_file>> store_file::open(const std::filesystem::path& dir, bool read_only) noexcept {
  try {
    const std::filesystem::path p = dir / data_file_name;
    const int fd = ::open(p.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      if (e == ENOENT)
        return make_error(errc::not_found, "no store in " + dir.string() + " (" + p.string() + " is missing)");
      return tl::unexpected(errno_error(e, "opening " + p.string()));
    }
    std::unique_ptr<store_file> f(new store_file(dir, fd, read_only));
    if (::flock(fd, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
      const int e = errno;
      if (e == EWOULDBLOCK) {
        return make_error(errc::busy, "store " + dir.string() + " is open " +
                                          (read_only ? "for writing by another handle"
                                                     : "by another handle (in this or another process)"));
      }
      return tl::unexpected(errno_error(e, "locking " + p.string()));
    }
    if (auto ok = f->load(); !ok) return tl::unexpected(std::move(ok.error()));
    return f;
  } catch (...) {
    return make_error(errc::no_memory, "opening a store");
  }
}

result<void> store_file::load() noexcept {
  auto size = file_size(fd_, dir_ / data_file_name);
  if (!size) return tl::unexpected(std::move(size.error()));
  size_at_open_ = *size;
  if (size_at_open_ < first_block_offset) {
    return make_error(errc::corruption, "store file is truncated: " + std::to_string(size_at_open_) +
                                            " bytes, shorter than its fixed pages (" +
                                            std::to_string(first_block_offset) + ")");
  }
  page p{};
  if (auto ok = pread_full(fd_, p, superblock_offset, dir_ / data_file_name); !ok) return ok;
  auto s = decode_superblock(p);
  if (!s) return tl::unexpected(std::move(s.error()));
  super_ = *s;
  for (int i = 0; i < 2; ++i) {
    if (auto ok = pread_full(fd_, p, meta_offsets[static_cast<unsigned>(i)], dir_ / data_file_name); !ok) return ok;
    slots_[static_cast<unsigned>(i)] = decode_meta(p, i);
  }
  return {};
}

result<int> store_file::newest_slot() const noexcept {
  const bool ok0 = slots_[0].has_value();
  const bool ok1 = slots_[1].has_value();
  if (ok0 && ok1) return slots_[1]->generation > slots_[0]->generation ? 1 : 0;
  if (ok0) return 0;
  if (ok1) return 1;
  return make_error(errc::corruption, "no valid meta slot: " + std::string(slots_[0].error().message()) + "; " +
                                          std::string(slots_[1].error().message()));
}

result<void> store_file::write_meta(int index, const meta_slot& m) noexcept {
  const page p = encode_meta(m);
  const auto at = meta_offsets[static_cast<unsigned>(index)];
  if (auto ok = pwrite_full(fd_, p, at, dir_ / data_file_name); !ok) return ok;
  if (::fdatasync(fd_) != 0) return tl::unexpected(errno_error(errno, "syncing a meta slot"));
  slots_[static_cast<unsigned>(index)] = m;
  return {};
}

}  // namespace tessel::mmap
