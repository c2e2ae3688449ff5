#include "crypto/encryption_context.h"

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

using ::keybroker::testing::HasReason;
using Pairs = std::vector<EncryptionContext::Pair>;

std::string CanonicalOf(Pairs pairs) {
  absl::StatusOr<EncryptionContext> context = EncryptionContext::FromPairs(std::move(pairs));
  EXPECT_OK(context);
  return context.ok() ? context->canonical() : "<error>";
}

TEST(EncryptionContextTest, EmptyContextIsFourZeroBytes) {
  EXPECT_EQ(EncryptionContext().canonical(), std::string(4, '\0'));
  EXPECT_EQ(EncryptionContext().size(), 0u);
  EXPECT_EQ(CanonicalOf({}), std::string(4, '\0'));
}

TEST(EncryptionContextTest, CanonicalBytesFollowTheDocumentedLayout) {
  // u32 count, then per pair sorted by key: u32 key length, key, u32 value
  // length, value; all big-endian.
  // clang-format off
  const std::string expected(
      "\x00\x00\x00\x02"
      "\x00\x00\x00\x01" "a" "\x00\x00\x00\x02" "xy"
      "\x00\x00\x00\x01" "b" "\x00\x00\x00\x01" "2",
      4 + (4 + 1 + 4 + 2) + (4 + 1 + 4 + 1));
  // clang-format on
  EXPECT_EQ(CanonicalOf({{"b", "2"}, {"a", "xy"}}), expected);
}

TEST(EncryptionContextTest, LengthsAreBigEndian) {
  std::string value(0x0102, 'v');
  std::string canonical = CanonicalOf({{"k", value}});
  // count, key length, "k", then the value length 0x00000102.
  EXPECT_EQ(canonical.substr(9, 4), std::string("\x00\x00\x01\x02", 4));
  EXPECT_EQ(canonical.size(), 4 + 4 + 1 + 4 + value.size());
}

TEST(EncryptionContextTest, PairOrderDoesNotMatter) {
  std::string canonical = CanonicalOf({{"tenant", "acme"}, {"app", "billing"}, {"env", "prod"}});
  EXPECT_EQ(CanonicalOf({{"env", "prod"}, {"tenant", "acme"}, {"app", "billing"}}), canonical);
  EXPECT_EQ(CanonicalOf({{"app", "billing"}, {"env", "prod"}, {"tenant", "acme"}}), canonical);

  std::map<std::string, std::string> ordered = {
      {"tenant", "acme"}, {"app", "billing"}, {"env", "prod"}};
  std::unordered_map<std::string, std::string> unordered(ordered.begin(), ordered.end());
  absl::StatusOr<EncryptionContext> from_map = EncryptionContext::FromMap(ordered);
  absl::StatusOr<EncryptionContext> from_unordered = EncryptionContext::FromMap(unordered);
  ASSERT_OK(from_map);
  ASSERT_OK(from_unordered);
  EXPECT_EQ(from_map->canonical(), canonical);
  EXPECT_EQ(from_unordered->canonical(), canonical);
  EXPECT_EQ(from_map->size(), 3u);
}

TEST(EncryptionContextTest, KeysSortBytewiseAsUnsigned) {
  // "B" (0x42) < "a" (0x61) < "ab" < "z" < "\xff".
  std::string canonical =
      CanonicalOf({{"\xff", "5"}, {"z", "4"}, {"ab", "3"}, {"a", "2"}, {"B", "1"}});
  std::string values;
  size_t pos = 4;
  while (pos < canonical.size()) {
    size_t key_len = static_cast<unsigned char>(canonical[pos + 3]);
    pos += 4 + key_len;
    size_t value_len = static_cast<unsigned char>(canonical[pos + 3]);
    values += canonical.substr(pos + 4, value_len);
    pos += 4 + value_len;
  }
  EXPECT_EQ(values, "12345");
}

TEST(EncryptionContextTest, DifferentSplitsOfTheSameTextEncodeDifferently) {
  EXPECT_NE(CanonicalOf({{"a", "bc"}}), CanonicalOf({{"ab", "c"}}));
  EXPECT_NE(CanonicalOf({{"a", ""}, {"b", ""}}), CanonicalOf({{"ab", ""}}));
}

TEST(EncryptionContextTest, EmptyValuesAndBinaryBytesAreAllowed) {
  std::string binary("\0\n\xff", 3);
  std::string canonical = CanonicalOf({{"k", ""}, {binary, binary}});
  EXPECT_NE(canonical.find(binary), std::string::npos);
}

TEST(EncryptionContextTest, Accepts64PairsAndRejects65) {
  std::vector<std::string> keys;
  for (int i = 0; i < 65; ++i) keys.push_back(absl::StrCat("key", i));
  Pairs pairs;
  for (int i = 0; i < 64; ++i) pairs.emplace_back(keys[i], "v");
  absl::StatusOr<EncryptionContext> at_limit = EncryptionContext::FromPairs(pairs);
  ASSERT_OK(at_limit);
  EXPECT_EQ(at_limit->size(), 64u);

  pairs.emplace_back(keys[64], "v");
  EXPECT_THAT(EncryptionContext::FromPairs(pairs), HasReason(ErrorReason::kInvalidRequest));
}

TEST(EncryptionContextTest, Accepts8192BytesAndRejects8193) {
  // Keys plus values: "k1" + 4094 + "k2" + 4094 = 8192.
  std::string value(4094, 'v');
  EXPECT_OK(EncryptionContext::FromPairs({{"k1", value}, {"k2", value}}));
  std::string longer(4095, 'v');
  EXPECT_THAT(EncryptionContext::FromPairs({{"k1", value}, {"k2", longer}}),
              HasReason(ErrorReason::kInvalidRequest));
}

TEST(EncryptionContextTest, RejectsAnEmptyKey) {
  EXPECT_THAT(EncryptionContext::FromPairs({{"", "value"}}),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_THAT(EncryptionContext::FromPairs({{"a", "1"}, {"", ""}}),
              HasReason(ErrorReason::kInvalidRequest));
}

TEST(EncryptionContextTest, RejectsADuplicateKeyEvenWithDifferentValues) {
  EXPECT_THAT(EncryptionContext::FromPairs({{"tenant", "a"}, {"app", "x"}, {"tenant", "b"}}),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_THAT(EncryptionContext::FromPairs({{"tenant", "a"}, {"tenant", "a"}}),
              HasReason(ErrorReason::kInvalidRequest));
}

}  // namespace
}  // namespace keybroker::crypto
