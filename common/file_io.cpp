// File plumbing shared by the data file and the operation log (common/file_io.hpp).
#include "common/file_io.hpp"

#include <cerrno>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errno_error.hpp"

namespace tessel {

error file_errno_error(int err, std::string_view context) {
  error e = errno_error(err, context);
  if (err == EFBIG) return error(errc::no_space, std::string(e.message()));
  return e;
}

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int unique_fd::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void unique_fd::reset() noexcept {
  if (fd_ >= 0) (void)::close(fd_);
  fd_ = -1;
}

result<unique_fd> open_file(const std::filesystem::path& path, int flags, unsigned mode) noexcept {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int e = errno;
    return tl::unexpected(file_errno_error(e, "opening " + path.string()));
  }
  return unique_fd(fd);
}

result<void> pread_full(int fd, std::span<std::byte> bytes, std::uint64_t offset,
                        const std::filesystem::path& path) noexcept {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      return tl::unexpected(file_errno_error(e, "reading " + path.string()));
    }
    if (n == 0) {
      return make_error(errc::io_error, "reading " + path.string() + ": file ends at " + std::to_string(offset + done) +
                                            ", before the expected " + std::to_string(offset + bytes.size()));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

result<void> pwrite_full(int fd, std::span<const std::byte> bytes, std::uint64_t offset,
                         const std::filesystem::path& path) noexcept {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      return tl::unexpected(file_errno_error(e, "writing " + path.string()));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

result<std::uint64_t> file_size(int fd, const std::filesystem::path& path) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    return tl::unexpected(file_errno_error(e, "examining " + path.string()));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

result<void> make_store_directory(const std::filesystem::path& dir, std::filesystem::perms mode) noexcept {
  try {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec)) {
      std::filesystem::permissions(dir, mode, ec);
    } else if (ec) {
      return tl::unexpected(errno_error(ec.value(), "creating store directory " + dir.string()));
    }
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "creating store directory " + dir.string());
  }
}

result<unique_fd> lock_store_creation(const std::filesystem::path& dir) noexcept {
  auto fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return tl::unexpected(std::move(fd.error()));
  if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    if (e == EWOULDBLOCK) return make_error(errc::busy, "another handle is creating a store in " + dir.string());
    return tl::unexpected(file_errno_error(e, "locking directory " + dir.string() + " to create a store"));
  }
  return fd;
}

result<void> sync_directory(const std::filesystem::path& dir) noexcept {
  auto fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return tl::unexpected(std::move(fd.error()));
  if (::fsync(fd->get()) != 0) {
    const int e = errno;
    return tl::unexpected(file_errno_error(e, "syncing directory " + dir.string()));
  }
  return {};
}

result<std::optional<std::vector<std::byte>>> read_file_if_exists(const std::filesystem::path& path) noexcept {
  try {
    auto fd = open_file(path, O_RDONLY);
    if (!fd) {
      if (fd.error().code() == errc::not_found) return std::optional<std::vector<std::byte>>{};
      return tl::unexpected(std::move(fd.error()));
    }
    auto size = file_size(fd->get(), path);
    if (!size) return tl::unexpected(std::move(size.error()));
    std::vector<std::byte> bytes(*size);
    if (auto ok = pread_full(fd->get(), bytes, 0, path); !ok) return tl::unexpected(std::move(ok.error()));
    return std::optional<std::vector<std::byte>>(std::move(bytes));
  } catch (...) {
    return make_error(errc::no_memory, "reading " + path.string());
  }
}

result<void> replace_file_durably(const std::filesystem::path& dir, std::string_view name,
                                  std::span<const std::byte> bytes, unsigned mode) noexcept {
  try {
    const std::filesystem::path path = dir / name;
    const std::filesystem::path tmp = dir / (std::string(name) + ".new");
    {
      auto fd = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode & 07777);
      if (!fd) return tl::unexpected(std::move(fd.error()));
      // The umask must not narrow what the caller asks for.
      if (::fchmod(fd->get(), mode & 07777) != 0) {
        return tl::unexpected(file_errno_error(errno, "setting the mode of " + tmp.string()));
      }
      if (auto ok = pwrite_full(fd->get(), bytes, 0, tmp); !ok) return ok;
      // Durable point 1: the new bytes, under a name nothing reads.
      if (::fdatasync(fd->get()) != 0) return tl::unexpected(file_errno_error(errno, "syncing " + tmp.string()));
    }
    // Durable point 2: the rename. Before it the old file stands, after it the new one.
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return tl::unexpected(file_errno_error(errno, "renaming " + tmp.string() + " into place"));
    }
    return sync_directory(dir);
  } catch (...) {
    return make_error(errc::no_memory, "replacing " + std::string(name));
  }
}

}  // namespace tessel
