#include "common/secret_file_permissions.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/files.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/temp_dir.h"

namespace keybroker {
namespace {

using ::keybroker::testing::LogCapture;
using ::keybroker::testing::TempDir;
using ::keybroker::testing::WriteAll;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr gid_t kOwnGroup = 65532;
constexpr gid_t kOtherGroup = 100;

TEST(SecretFilePermissionsTest, OthersOrAForeignGroupMayNotRead) {
  EXPECT_FALSE(ModeExposesSecret(0600, kOtherGroup, kOwnGroup));
  EXPECT_FALSE(ModeExposesSecret(0400, kOtherGroup, kOwnGroup));
  EXPECT_FALSE(ModeExposesSecret(0640, kOwnGroup, kOwnGroup)) << "the chart's fsGroup mount";
  EXPECT_FALSE(ModeExposesSecret(0440, kOwnGroup, kOwnGroup));
  EXPECT_FALSE(ModeExposesSecret(0620, kOtherGroup, kOwnGroup)) << "write is not read";
  EXPECT_TRUE(ModeExposesSecret(0640, kOtherGroup, kOwnGroup));
  EXPECT_TRUE(ModeExposesSecret(0644, kOwnGroup, kOwnGroup));
  EXPECT_TRUE(ModeExposesSecret(0604, kOwnGroup, kOwnGroup));
  EXPECT_TRUE(ModeExposesSecret(0444, kOtherGroup, kOwnGroup));
}

class WarnIfSecretFileExposedTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteAll(path_, "the-secret-bytes\n"); }

  TempDir dir_;
  const std::string path_ = dir_.File("client-secret");
  LogCapture log_;
};

TEST_F(WarnIfSecretFileExposedTest, WarnsNamingTheFileNeverItsContents) {
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  EXPECT_TRUE(WarnIfSecretFileExposed(path_, "entra client secret"));
  std::vector<nlohmann::json> lines = log_.Events("secret_file_readable");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["level"], "warn");
  EXPECT_EQ(lines[0]["file"], path_);
  EXPECT_EQ(lines[0]["secret"], "entra client secret");
  EXPECT_EQ(lines[0]["mode"], "0644");
  EXPECT_THAT(log_.All(), Not(HasSubstr("the-secret-bytes")));
}

TEST_F(WarnIfSecretFileExposedTest, QuietForTheOwnerAndTheBrokersOwnGroup) {
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  EXPECT_FALSE(WarnIfSecretFileExposed(path_, "master key"));
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  if (st.st_gid == ::getegid()) {  // a new file takes our group, unless the directory is setgid
    ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
    EXPECT_FALSE(WarnIfSecretFileExposed(path_, "master key"));
  }
  EXPECT_FALSE(WarnIfSecretFileExposed(dir_.File("missing"), "master key"));
  EXPECT_EQ(log_.All(), "");
}

TEST_F(WarnIfSecretFileExposedTest, FollowsLinksToTheFileItself) {
  // Kubernetes mounts each Secret key as a link into a ..data directory.
  ASSERT_EQ(::chmod(path_.c_str(), 0604), 0);
  const std::string link = dir_.File("link");
  ASSERT_EQ(::symlink(path_.c_str(), link.c_str()), 0);
  EXPECT_TRUE(WarnIfSecretFileExposed(link, "TLS private key"));
  std::vector<nlohmann::json> lines = log_.Events("secret_file_readable");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["file"], link);
  EXPECT_EQ(lines[0]["mode"], "0604");
}

}  // namespace
}  // namespace keybroker
