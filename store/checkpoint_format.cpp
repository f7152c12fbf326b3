#include "store/checkpoint_format.hpp"

#include <cstring>

#include "common/checksum.hpp"
#include "common/le_codec.hpp"

namespace tessel::detail {

namespace {

constexpr std::size_t header_checksum_at = checkpoint_header_bytes - 8;
constexpr std::size_t trailer_checksum_at = checkpoint_trailer_bytes - 8;

}  // namespace

void encode_header(const checkpoint_header& h, std::span<std::byte, checkpoint_header_bytes> out) noexcept {
  std::memset(out.data(), 0, out.size());
  std::memcpy(out.data(), checkpoint_magic.data(), checkpoint_magic.size());
  store_le<std::uint32_t>(out.data() + 8, checkpoint_format_version);
  store_le<std::uint32_t>(out.data() + 12, 0);  // flags
  store_le<std::uint64_t>(out.data() + 16, h.at_seq);
  store_le<std::uint64_t>(out.data() + 24, h.keys);
  store_le<std::uint64_t>(out.data() + 32, h.data_bytes);
  store_le<std::uint64_t>(out.data() + 40, h.created_unix_ns);
  store_le<std::uint64_t>(out.data() + header_checksum_at, checksum64(out.first(header_checksum_at)));
}

std::uint64_t header_checksum_of(std::span<const std::byte, checkpoint_header_bytes> in) noexcept {
  return load_le<std::uint64_t>(in.data() + header_checksum_at);
}

result<checkpoint_header> decode_header(std::span<const std::byte, checkpoint_header_bytes> in,
                                        const std::string& what) noexcept {
  if (std::memcmp(in.data(), checkpoint_magic.data(), checkpoint_magic.size()) != 0) {
    return make_error(errc::corruption, what + " is not a tessel checkpoint file (bad magic)");
  }
  if (checksum64(in.first(header_checksum_at)) != header_checksum_of(in)) {
    return make_error(errc::corruption, what + ": the header fails its checksum");
  }
  const auto version = load_le<std::uint32_t>(in.data() + 8);
  if (version != checkpoint_format_version) {
    return make_error(errc::version_mismatch, what + " has checkpoint format version " + std::to_string(version) +
                                                  "; this build reads version " +
                                                  std::to_string(checkpoint_format_version));
  }
  if (load_le<std::uint32_t>(in.data() + 12) != 0) {
    return make_error(errc::version_mismatch, what + " uses checkpoint features this build does not know");
  }
  checkpoint_header h;
  h.at_seq = load_le<std::uint64_t>(in.data() + 16);
  h.keys = load_le<std::uint64_t>(in.data() + 24);
  h.data_bytes = load_le<std::uint64_t>(in.data() + 32);
  h.created_unix_ns = load_le<std::uint64_t>(in.data() + 40);
  return h;
}

void encode_trailer(const checkpoint_trailer& t, std::uint64_t header_checksum,
                    std::span<std::byte, checkpoint_trailer_bytes> out) noexcept {
  store_le<std::uint64_t>(out.data(), t.keys);
  store_le<std::uint64_t>(out.data() + 8, t.data_bytes);
  store_le<std::uint64_t>(out.data() + 16, t.frames);
  std::array<std::byte, trailer_checksum_at + 8> bound{};
  std::memcpy(bound.data(), out.data(), trailer_checksum_at);
  store_le<std::uint64_t>(bound.data() + trailer_checksum_at, header_checksum);
  store_le<std::uint64_t>(out.data() + trailer_checksum_at, checksum64(bound));
}

result<checkpoint_trailer> decode_trailer(std::span<const std::byte, checkpoint_trailer_bytes> in,
                                          std::uint64_t header_checksum, const std::string& what) noexcept {
  std::array<std::byte, trailer_checksum_at + 8> bound{};
  std::memcpy(bound.data(), in.data(), trailer_checksum_at);
  store_le<std::uint64_t>(bound.data() + trailer_checksum_at, header_checksum);
  if (checksum64(bound) != load_le<std::uint64_t>(in.data() + trailer_checksum_at)) {
    return make_error(errc::corruption, what + ": the trailer fails its checksum (truncated or damaged)");
  }
  checkpoint_trailer t;
  t.keys = load_le<std::uint64_t>(in.data());
  t.data_bytes = load_le<std::uint64_t>(in.data() + 8);
  t.frames = load_le<std::uint64_t>(in.data() + 16);
  return t;
}

}  // namespace tessel::detail
