#include "common/checksum.hpp"

#include <array>
#include <cstddef>
#include <string_view>

#include <gtest/gtest.h>

#include "common/le_codec.hpp"

namespace tessel {
namespace {

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(Checksum, IsXxh3OfTheBytes) {
  // The published XXH3-64 of the empty input, so a change of function is caught.
  EXPECT_EQ(checksum64(bytes_of("")), 0x2D06800538D394C2ULL);
  EXPECT_NE(checksum64(bytes_of("tessel")), checksum64(bytes_of("tesseL")));
  EXPECT_EQ(checksum32(bytes_of("tessel")), static_cast<std::uint32_t>(checksum64(bytes_of("tessel"))));
}

TEST(LeCodec, RoundTripsUnalignedFields) {
  std::array<std::byte, 16> buf{};
  store_le<std::uint32_t>(buf.data() + 1, 0xA1B2C3D4U);
  store_le<std::uint64_t>(buf.data() + 5, 0x0102030405060708ULL);
  EXPECT_EQ(load_le<std::uint32_t>(buf.data() + 1), 0xA1B2C3D4U);
  EXPECT_EQ(load_le<std::uint64_t>(buf.data() + 5), 0x0102030405060708ULL);
  EXPECT_EQ(buf[1], std::byte{0xD4});  // least significant byte first
}

}  // namespace
}  // namespace tessel
