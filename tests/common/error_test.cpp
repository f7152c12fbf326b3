// Tests for tessel/error.hpp and common/errno_error.hpp: code names, messages, result<T>, errno translation.
#include "tessel/error.hpp"

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

#include "common/errno_error.hpp"

namespace tessel {
namespace {

struct code_name {
  errc code;
  std::uint8_t value;
  std::string_view name;
};

// The closed list with its stable numeric values (they are CLI exit codes, docs/tools.md).
constexpr code_name all_codes[] = {
    {errc::ok, 0, "ok"},
    {errc::not_found, 1, "not_found"},
    {errc::invalid_argument, 2, "invalid_argument"},
    {errc::corruption, 3, "corruption"},
    {errc::io_error, 4, "io_error"},
    {errc::no_space, 5, "no_space"},
    {errc::no_memory, 6, "no_memory"},
    {errc::busy, 7, "busy"},
    {errc::conflict, 8, "conflict"},
    {errc::version_mismatch, 9, "version_mismatch"},
    {errc::not_supported, 10, "not_supported"},
    {errc::aborted, 11, "aborted"},
    {errc::fatal, 12, "fatal"},
    {errc::compacted, 13, "compacted"},
};

TEST(ErrcTest, EveryCodeHasItsStableValueAndName) {
  std::set<std::string_view> names;
  for (const code_name& c : all_codes) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(static_cast<std::uint8_t>(c.code), c.value);
    EXPECT_EQ(to_string(c.code), c.name);
    names.insert(to_string(c.code));
  }
  EXPECT_EQ(names.size(), std::size(all_codes)) << "two codes share a name";
}

TEST(ErrcTest, ValueOutsideTheListIsUnknown) {
  EXPECT_EQ(to_string(static_cast<errc>(14)), "unknown");
  EXPECT_EQ(to_string(static_cast<errc>(255)), "unknown");
}

TEST(ErrorTest, DefaultIsOkWithTheCodeNameAsMessage) {
  const error e;
  EXPECT_EQ(e.code(), errc::ok);
  EXPECT_EQ(e.message(), "ok");
  EXPECT_EQ(e.to_string(), "ok");
}

TEST(ErrorTest, CodeOnlyErrorUsesTheCodeNameForMessageAndString) {
  for (const code_name& c : all_codes) {
    SCOPED_TRACE(c.name);
    const error e(c.code);
    EXPECT_EQ(e.code(), c.code);
    EXPECT_EQ(e.message(), c.name);
    EXPECT_EQ(e.to_string(), std::string(c.name));
  }
}

TEST(ErrorTest, MessageIsKeptAndPrefixedByTheCodeInToString) {
  const error e(errc::invalid_argument, "key of 20000 bytes exceeds max_key_size 16384");
  EXPECT_EQ(e.code(), errc::invalid_argument);
  EXPECT_EQ(e.message(), "key of 20000 bytes exceeds max_key_size 16384");
  EXPECT_EQ(e.to_string(), "invalid_argument: key of 20000 bytes exceeds max_key_size 16384");
}

TEST(ErrorTest, MessageMayHoldAnyBytes) {
  const std::string raw("a\0b\xff", 4);
  const error e(errc::corruption, raw);
  EXPECT_EQ(e.message(), raw);
  EXPECT_EQ(e.to_string(), "corruption: " + raw);
}

TEST(ErrorTest, EqualityComparesCodesOnly) {
  EXPECT_EQ(error(errc::not_found), error(errc::not_found, "key /a"));
  EXPECT_EQ(error(errc::busy, "x"), error(errc::busy, "y"));
  EXPECT_FALSE(error(errc::busy) == error(errc::fatal));
  EXPECT_FALSE(error() == error(errc::not_found));
}

TEST(ErrorTest, CopiesAndMovesKeepCodeAndMessage) {
  const error original(errc::io_error, "reading superblock");
  error copy = original;
  EXPECT_EQ(copy.code(), errc::io_error);
  EXPECT_EQ(copy.message(), "reading superblock");
  const error moved = std::move(copy);
  EXPECT_EQ(moved.code(), errc::io_error);
  EXPECT_EQ(moved.message(), "reading superblock");
  EXPECT_EQ(original.message(), "reading superblock");
}

TEST(MakeErrorTest, BuildsTheErrorSideOfAResult) {
  const result<int> r = make_error(errc::no_space, "pool full");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), errc::no_space);
  EXPECT_EQ(r.error().message(), "pool full");
  EXPECT_EQ(r.error().to_string(), "no_space: pool full");
}

TEST(MakeErrorTest, WithoutMessageFallsBackToTheCodeName) {
  const result<void> r = make_error(errc::aborted);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), errc::aborted);
  EXPECT_EQ(r.error().message(), "aborted");
}

TEST(ResultTest, HoldsAValueOrAnError) {
  const result<std::string> ok = std::string("value");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, "value");
  const result<void> ok_void{};
  EXPECT_TRUE(ok_void.has_value());

  const result<std::string> bad = make_error(errc::not_found);
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), errc::not_found);
  EXPECT_EQ(bad.value_or("fallback"), "fallback");
}

struct errno_case {
  int err;
  errc code;
};

TEST(ErrnoErrorTest, TranslatesEveryMappedErrno) {
  const errno_case cases[] = {
      {ENOENT, errc::not_found}, {ENOSPC, errc::no_space},  {EDQUOT, errc::no_space}, {ENOMEM, errc::no_memory},
      {EAGAIN, errc::busy},      {EWOULDBLOCK, errc::busy}, {EBUSY, errc::busy},      {EINVAL, errc::invalid_argument},
  };
  for (const errno_case& c : cases) {
    SCOPED_TRACE(std::strerror(c.err));
    EXPECT_EQ(errno_error(c.err, "ctx").code(), c.code);
  }
}

TEST(ErrnoErrorTest, AnythingElseIsAnIoError) {
  for (const int err : {EIO, EACCES, EPERM, EBADF, EEXIST, ENOTDIR, EROFS, EFBIG, 0, 9999}) {
    SCOPED_TRACE(err);
    EXPECT_EQ(errno_error(err, "ctx").code(), errc::io_error);
  }
}

TEST(ErrnoErrorTest, MessageIsContextThenStrerror) {
  const error e = errno_error(ENOENT, "opening /tmp/x.tessel");
  EXPECT_EQ(e.message(), std::string("opening /tmp/x.tessel: ") + std::strerror(ENOENT));
  EXPECT_EQ(e.to_string(), std::string("not_found: opening /tmp/x.tessel: ") + std::strerror(ENOENT));
}

TEST(ErrnoErrorTest, EmptyContextStillNamesTheErrno) {
  const error e = errno_error(ENOSPC, "");
  EXPECT_EQ(e.code(), errc::no_space);
  EXPECT_NE(e.message().find(std::strerror(ENOSPC)), std::string_view::npos) << e.message();
}

}  // namespace
}  // namespace tessel
