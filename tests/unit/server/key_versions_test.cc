#include "server/key_versions.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keybroker::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::SizeIs;

kms::KeyVersionInfo Listed(const std::string& version, int64_t created, bool enabled = true) {
  kms::KeyVersionInfo info;
  info.version = version;
  info.created = absl::FromUnixSeconds(created);
  info.enabled = enabled;
  return info;
}

KeyVersionInventory::VersionUse Used(const std::string& version, int64_t seconds) {
  KeyVersionInventory::VersionUse use;
  use.version = version;
  use.last_used_seconds = seconds;
  return use;
}

auto VersionIs(const std::string& version) { return Field(&KeyVersionStatus::version, version); }

TEST(JoinKeyVersionsTest, ListedVersionsOldestFirstWithTheirLastUse) {
  std::vector<KeyVersionStatus> versions = JoinKeyVersions(
      std::vector<kms::KeyVersionInfo>{Listed("10", 20), Listed("9", 20), Listed("1", 5, false)},
      {Used("9", 300)});
  ASSERT_THAT(versions, ElementsAre(VersionIs("1"), VersionIs("9"), VersionIs("10")));
  EXPECT_FALSE(versions[0].enabled);
  EXPECT_TRUE(versions[0].listed);
  EXPECT_EQ(versions[0].created, absl::FromUnixSeconds(5));
  EXPECT_FALSE(versions[0].last_used.has_value());
  EXPECT_EQ(versions[1].last_used, absl::FromUnixSeconds(300));
}

TEST(JoinKeyVersionsTest, WithoutAListingTheVersionsInUseRemain) {
  std::vector<KeyVersionStatus> versions =
      JoinKeyVersions(std::nullopt, {Used("b", 2), Used("a", 1)});
  ASSERT_THAT(versions, ElementsAre(VersionIs("a"), VersionIs("b")));
  EXPECT_FALSE(versions[0].listed);
  EXPECT_FALSE(versions[0].enabled);
  EXPECT_FALSE(versions[0].created.has_value());
  EXPECT_EQ(versions[1].last_used, absl::FromUnixSeconds(2));
}

TEST(JoinKeyVersionsTest, AVersionInUseButNotListedComesLast) {
  std::vector<KeyVersionStatus> versions = JoinKeyVersions(
      std::vector<kms::KeyVersionInfo>{Listed("2", 20), Listed("1", 10)}, {Used("gone", 7)});
  EXPECT_THAT(versions, ElementsAre(VersionIs("1"), VersionIs("2"), VersionIs("gone")));
}

TEST(JoinKeyVersionsTest, KeepsTheNewestListedVersionsAndEveryVersionInUse) {
  std::vector<kms::KeyVersionInfo> listed;
  for (int v = 1; v <= 250; ++v) listed.push_back(Listed(absl::StrCat(v), v));
  std::vector<KeyVersionStatus> versions = JoinKeyVersions(listed, {Used("3", 900)});
  ASSERT_THAT(versions, SizeIs(kMaxListedVersions + 1));
  EXPECT_EQ(versions[0].version, "3");
  EXPECT_EQ(versions[0].last_used, absl::FromUnixSeconds(900));
  EXPECT_EQ(versions[1].version, "151");
  EXPECT_EQ(versions.back().version, "250");
}

}  // namespace
}  // namespace keybroker::server
