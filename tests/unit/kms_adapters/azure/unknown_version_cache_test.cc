#include "kms_adapters/azure/unknown_version_cache.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keybroker::kms::azure {
namespace {

using ::testing::Optional;

absl::Status NotFound(absl::string_view version) {
  return KeyNotFound(absl::StrCat("unwrapkey on key v/k version ", version, " failed: HTTP 404"));
}

TEST(UnknownVersionCacheTest, RemembersTheErrorPerKeyAndVersion) {
  UnknownVersionCache cache(absl::Minutes(1), 100);
  EXPECT_EQ(cache.Find("v/k", "01"), std::nullopt);
  cache.Remember("v/k", "01", NotFound("01"));
  EXPECT_THAT(cache.Find("v/k", "01"), Optional(NotFound("01")));
  EXPECT_EQ(cache.Find("v/k", "02"), std::nullopt);
  EXPECT_EQ(cache.Find("v/other", "01"), std::nullopt);
}

TEST(UnknownVersionCacheTest, ForgetsAfterTheTtl) {
  const absl::Duration ttl = absl::Milliseconds(100);
  UnknownVersionCache cache(ttl, 100);
  cache.Remember("v/k", "01", NotFound("01"));
  absl::SleepFor(ttl + absl::Milliseconds(20));
  EXPECT_EQ(cache.Find("v/k", "01"), std::nullopt);
}

TEST(UnknownVersionCacheTest, KeepsAtMostMaxEntriesDroppingTheOldest) {
  UnknownVersionCache cache(absl::Minutes(1), 3);
  for (int i = 0; i < 10; ++i) cache.Remember("v/k", absl::StrCat(i), NotFound(absl::StrCat(i)));
  for (int i = 0; i < 7; ++i) EXPECT_EQ(cache.Find("v/k", absl::StrCat(i)), std::nullopt) << i;
  for (int i = 7; i < 10; ++i) EXPECT_NE(cache.Find("v/k", absl::StrCat(i)), std::nullopt) << i;

  // Remembered again, an entry counts from then: the others go first.
  cache.Remember("v/k", "7", NotFound("7"));
  cache.Remember("v/k", "10", NotFound("10"));
  cache.Remember("v/k", "11", NotFound("11"));
  EXPECT_NE(cache.Find("v/k", "7"), std::nullopt);
  EXPECT_EQ(cache.Find("v/k", "8"), std::nullopt);
  EXPECT_EQ(cache.Find("v/k", "9"), std::nullopt);
}

TEST(UnknownVersionCacheTest, ZeroTtlOrSizeRemembersNothing) {
  UnknownVersionCache off(absl::ZeroDuration(), 100);
  off.Remember("v/k", "01", NotFound("01"));
  EXPECT_EQ(off.Find("v/k", "01"), std::nullopt);
  UnknownVersionCache empty(absl::Minutes(1), 0);
  empty.Remember("v/k", "01", NotFound("01"));
  EXPECT_EQ(empty.Find("v/k", "01"), std::nullopt);
}

}  // namespace
}  // namespace keybroker::kms::azure
