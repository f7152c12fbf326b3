// Error codes, the error type and result<T>: the only way tessel reports failure.
//
// Thread safety: values; safe to copy between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace tessel {

/// The closed list of failure kinds. Stable: values are used as CLI exit codes (docs/tools.md).
enum class errc : std::uint8_t {
  ok = 0,
  not_found = 1,         ///< the key, file or object does not exist
  invalid_argument = 2,  ///< bad input: oversize key or value, bad option, wrong typed size
  corruption = 3,        ///< stored bytes fail a checksum or an invariant
  io_error = 4,          ///< the operating system refused a read, write, sync or map
  no_space = 5,          ///< region, file system or pool is full
  no_memory = 6,         ///< the process is out of memory
  busy = 7,              ///< the store is open elsewhere
  conflict = 8,          ///< a version check failed
  version_mismatch = 9,  ///< the store's format version is not one this build reads
  not_supported = 10,    ///< the operation is not available for this backend or build
  aborted = 11,          ///< the operation was cancelled
  fatal = 12,            ///< a commit point failed; the store refuses work until reopened
  compacted = 13,        ///< the history asked for is no longer retained (a watch resumed too late)
};

/// A short, stable name for a code ("not_found").
[[nodiscard]] std::string_view to_string(errc code) noexcept;

/// What a failed version check found (errc::conflict from the versioned KV layer, include/tessel/kv_store.hpp).
struct version_conflict {
  /// `expected` of a check that asked only that the key exist, at any version.
  static constexpr std::uint64_t any_version = ~std::uint64_t{0};
  std::string key;
  std::uint64_t expected = 0;  ///< the version the check asked for (0: the key missing)
  std::uint64_t found = 0;     ///< the key's version (0: missing)
  std::size_t op_index = 0;    ///< the failing check's position in its transaction (0 for compare_and_set)
};

/// A failure: its kind and a message naming the problem.
/// Constructing one with an empty message allocates nothing, so hot paths (a missing key) stay cheap.
class error {
 public:
  error() noexcept = default;
  explicit error(errc code) noexcept : code_(code) {}
  error(errc code, std::string message) noexcept : code_(code), message_(std::move(message)) {}
  /// A conflict carrying what its version check found. Throws std::bad_alloc.
  error(std::string message, version_conflict details)
      : code_(errc::conflict),
        message_(std::move(message)),
        conflict_(std::make_shared<const version_conflict>(std::move(details))) {}

  [[nodiscard]] errc code() const noexcept { return code_; }
  /// The message, or the code's name when none was given.
  [[nodiscard]] std::string_view message() const noexcept;
  /// "code: message", for logs and the CLI.
  [[nodiscard]] std::string to_string() const;
  /// What the failed version check found; null unless the error came from one.
  [[nodiscard]] const version_conflict* conflict() const noexcept { return conflict_.get(); }

  friend bool operator==(const error& a, const error& b) noexcept { return a.code_ == b.code_; }

 private:
  errc code_ = errc::ok;
  std::string message_;
  std::shared_ptr<const version_conflict> conflict_;  // shared: errors are copied along result chains
};

/// A value or an error. Same API as C++23 std::expected (tl::expected until GCC has <expected> in C++20).
template <class T>
using result = tl::expected<T, error>;

/// Shorthand for building the error side of a result.
[[nodiscard]] inline tl::unexpected<error> make_error(errc code, std::string message = {}) {
  return tl::unexpected<error>(error(code, std::move(message)));
}

}  // namespace tessel
