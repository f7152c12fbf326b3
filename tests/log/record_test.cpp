// The record codec: round trips and refusal of every kind of damage.
#include "log/record.hpp"

#include <cstddef>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/checksum.hpp"
#include "common/le_codec.hpp"

namespace tessel::oplog {
namespace {

std::vector<std::byte> encode(std::uint64_t seq, op_kind kind, std::string_view key, std::string_view value) {
  std::vector<std::byte> buf(encoded_size(key.size(), value.size()));
  encode_record(buf, seq, kind, as_bytes(key), as_bytes(value));
  return buf;
}

void expect_round_trip(std::uint64_t seq, op_kind kind, const std::string& key, const std::string& value) {
  const auto buf = encode(seq, kind, key, value);
  ASSERT_EQ(buf.size(), record_min_bytes + key.size() + value.size());
  auto d = decode_record(buf);
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->size, buf.size());
  EXPECT_EQ(d->record.seq, seq);
  EXPECT_EQ(d->record.kind, kind);
  EXPECT_EQ(to_string(d->record.key), key);
  EXPECT_EQ(to_string(d->record.value), value);
}

TEST(Record, RoundTrips) {
  expect_round_trip(1, op_kind::put, "k", "v");
  expect_round_trip(UINT64_MAX, op_kind::put, "", "");
  expect_round_trip(7, op_kind::erase, "only-key", "");
  expect_round_trip(8, op_kind::clear, "", "");
  expect_round_trip(12, op_kind::batch, "", std::string("\x01\0\0\0\0\x01\0\0\0\x01\0\0\0kv", 15));
  expect_round_trip(9, op_kind::put, "", "value-with-empty-key");
  expect_round_trip(10, op_kind::put, std::string("\0a\0", 3), std::string(5, '\0'));
  expect_round_trip(11, op_kind::put, std::string(16 * 1024, 'k'), std::string(3U << 20, '\xff'));
}

TEST(Record, LayoutIsAsDocumented) {
  const auto buf = encode(0x0102030405060708ULL, op_kind::erase, "ab", "xyz");
  EXPECT_EQ(load_le<std::uint32_t>(buf.data() + 4), 16U + 2U + 3U);  // body_length
  EXPECT_EQ(load_le<std::uint64_t>(buf.data() + 8), 0x0102030405060708ULL);
  EXPECT_EQ(buf[16], std::byte{2});
  EXPECT_EQ(buf[17], std::byte{0});
  EXPECT_EQ(load_le<std::uint32_t>(buf.data() + 20), 2U);
  EXPECT_EQ(buf[24], std::byte{'a'});
  EXPECT_EQ(buf[26], std::byte{'x'});
}

TEST(Record, DecodesOnlyTheFirstOfSeveral) {
  auto buf = encode(1, op_kind::put, "a", "b");
  const auto second = encode(2, op_kind::put, "c", "d");
  const std::size_t first_size = buf.size();
  buf.insert(buf.end(), second.begin(), second.end());
  auto d = decode_record(buf);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size, first_size);
  auto d2 = decode_record(std::span<const std::byte>(buf).subspan(first_size));
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->record.seq, 2U);
}

TEST(Record, EveryFlippedByteIsRejected) {
  const auto good = encode(42, op_kind::put, std::string("k\0y", 3), "value");
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const std::byte mask : {std::byte{0x01}, std::byte{0x80}, std::byte{0xff}}) {
      auto bad = good;
      bad[i] ^= mask;
      auto d = decode_record(bad);
      ASSERT_FALSE(d) << "byte " << i << " mask " << std::to_integer<int>(mask);
      EXPECT_EQ(d.error().code(), errc::corruption);
    }
  }
}

TEST(Record, RejectsTruncation) {
  const auto good = encode(3, op_kind::put, "key", "value");
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(decode_record(std::span<const std::byte>(good).first(n))) << n;
  }
}

TEST(Record, ZerosNeverDecode) {
  const std::vector<std::byte> zeros(64);
  auto d = decode_record(zeros);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("below"), std::string_view::npos);
}

// Rewrites the checksum, so a test can make records whose checksum is right but whose fields are not: a
// writer bug or a forgery, refused all the same.
std::vector<std::byte> reseal(std::vector<std::byte> buf) {
  store_le<std::uint32_t>(&buf.at(0), checksum32(std::span<const std::byte>(buf).subspan(4)));
  return buf;
}

TEST(Record, RejectsBadFieldsUnderAValidChecksum) {
  const auto good = encode(5, op_kind::put, "key", "value");
  auto kind = good;
  kind.at(16) = std::byte{5};  // the first after batch
  auto d = decode_record(reseal(kind));
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("unknown kind"), std::string_view::npos);
  auto zero_kind = good;
  zero_kind.at(16) = std::byte{0};
  EXPECT_FALSE(decode_record(reseal(zero_kind)));
  auto pad = good;
  pad.at(18) = std::byte{1};
  d = decode_record(reseal(pad));
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("padding"), std::string_view::npos);
  auto key_len = good;
  store_le<std::uint32_t>(&key_len.at(20), 9);  // body holds 3 + 5 bytes
  d = decode_record(reseal(key_len));
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("key_length"), std::string_view::npos);
  auto body_len = good;
  store_le<std::uint32_t>(&body_len.at(4), 15);
  d = decode_record(reseal(body_len));
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("below"), std::string_view::npos);
}

}  // namespace
}  // namespace tessel::oplog
