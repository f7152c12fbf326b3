// The dump line format: every byte value round-trips, escaping keeps one entry per line, and malformed
// lines are refused with the column of the problem.
#include "store/dump_format.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tessel {
namespace {

using ::testing::HasSubstr;

std::string line_of(const std::string& key, const std::string& value) {
  std::string out;
  append_dump_line(out, as_bytes(key), as_bytes(value));
  return out;
}

TEST(DumpFormatTest, EveryByteValueRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string line = line_of(all, all + all);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one entry, one line";
  EXPECT_EQ(line.find('\t'), line.rfind('\t')) << "one separating tab";
  const auto parsed = parse_dump_line(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(parsed->key, all);
  EXPECT_EQ(parsed->value, all + all);
}

TEST(DumpFormatTest, PrintableBytesStayReadable) {
  EXPECT_EQ(line_of("/apps/a-1", "hello world"), "/apps/a-1\thello world\n");
  EXPECT_EQ(line_of("100%", "a\tb\nc"), "100%25\ta%09b%0Ac\n");
  EXPECT_EQ(line_of("", ""), "\t\n") << "empty key and value";
}

TEST(DumpFormatTest, LowerCaseHexIsAccepted) {
  const auto parsed = parse_dump_line("%ff\t%0a");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->key, std::string(1, '\xff'));
  EXPECT_EQ(parsed->value, "\n");
}

TEST(DumpFormatTest, MalformedLinesAreRefusedWithTheColumn) {
  for (const char* bad : {"no tab here", "a\tb\tc", "%zz\tv", "k\t%4", "k\tv%", "k\t\x01"}) {
    const auto parsed = parse_dump_line(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code(), errc::invalid_argument) << bad;
    EXPECT_FALSE(parsed.error().message().empty());
  }
  EXPECT_THAT(std::string(parse_dump_line("key\tab%zz").error().message()), HasSubstr("column 7"));
}

}  // namespace
}  // namespace tessel
