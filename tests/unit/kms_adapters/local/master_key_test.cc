#include "kms_adapters/local/master_key.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/files.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::kms {
namespace {

using ::keybroker::testing::LogCapture;
using ::keybroker::testing::ReadAll;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

class MasterKeyTest : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv(kMasterKeyEnv); }
  void TearDown() override { ::unsetenv(kMasterKeyEnv); }
  TempDir dir_;
};

TEST_F(MasterKeyTest, ReadsHexFileIgnoringWhitespace) {
  std::ofstream(dir_.File("mk")) << "  " << kHex << "\n\n";
  absl::StatusOr<crypto::SecretBytes> key = LoadMasterKey(dir_.File("mk"));
  ASSERT_OK(key);
  ASSERT_EQ(key->size(), 32u);
  EXPECT_EQ(key->Reveal()[0], 0x00);
  EXPECT_EQ(key->Reveal()[31], 0x1f);
}

TEST_F(MasterKeyTest, ReadsEnvironmentWhenNoFileIsConfigured) {
  ::setenv(kMasterKeyEnv, kHex, 1);
  absl::StatusOr<crypto::SecretBytes> key = LoadMasterKey("");
  ASSERT_OK(key);
  EXPECT_EQ(key->Reveal()[1], 0x01);
}

TEST_F(MasterKeyTest, TheEnvironmentVariableIsTakenOnceRead) {
  ::setenv(kMasterKeyEnv, kHex, 1);
  ASSERT_OK(LoadMasterKey(""));
  EXPECT_EQ(std::getenv(kMasterKeyEnv), nullptr) << "nothing left for child processes";
  EXPECT_THAT(LoadMasterKey(""), StatusIs(absl::StatusCode::kFailedPrecondition));

  ::setenv(kMasterKeyEnv, kHex, 1);
  ASSERT_OK(LoadOrCreateDevelopmentMasterKey(dir_.File("mk"), dir_.File("keyring")));
  EXPECT_EQ(std::getenv(kMasterKeyEnv), nullptr);
}

// The start-up copy, which /proc/self/environ shows, in a process started
// with the variable: gtest runs this test again in a new process (not a
// MasterKeyTest, whose SetUp would unset the variable there).
TEST(MasterKeyEnvironmentTest, TheVariableLeavesProcSelfEnviron) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ::setenv(kMasterKeyEnv, kHex, /*overwrite=*/0);  // set already in the new process
  EXPECT_EXIT(
      {
        bool at_start = absl::StrContains(ReadAll("/proc/self/environ"), kHex);
        absl::StatusOr<crypto::SecretBytes> key = LoadMasterKey("");
        bool gone = !absl::StrContains(ReadAll("/proc/self/environ"), kHex);
        std::_Exit(at_start && key.ok() && key->Reveal()[31] == 0x1f && gone ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  ::unsetenv(kMasterKeyEnv);
}

TEST_F(MasterKeyTest, AKeyFileOthersMayReadIsWarnedAboutByName) {
  std::ofstream(dir_.File("mk")) << kHex << "\n";
  ASSERT_EQ(::chmod(dir_.File("mk").c_str(), 0644), 0);
  LogCapture log;
  ASSERT_OK(LoadMasterKey(dir_.File("mk")));
  std::vector<nlohmann::json> warned = log.Events("secret_file_readable");
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0]["file"], dir_.File("mk"));
  EXPECT_EQ(warned[0]["secret"], "master key");
  EXPECT_THAT(log.All(), Not(HasSubstr(std::string(kHex).substr(0, 16))));

  ASSERT_EQ(::chmod(dir_.File("mk").c_str(), 0600), 0);
  ASSERT_OK(LoadMasterKey(dir_.File("mk")));
  EXPECT_EQ(log.Events("secret_file_readable").size(), 1u) << "0600 is quiet";
}

TEST_F(MasterKeyTest, MalformedKeyNamesTheSourceButNotTheKey) {
  std::string bad = std::string(kHex).substr(0, 62) + "zz";
  std::ofstream(dir_.File("mk")) << bad;
  absl::StatusOr<crypto::SecretBytes> key = LoadMasterKey(dir_.File("mk"));
  EXPECT_THAT(key, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(dir_.File("mk"))));
  EXPECT_THAT(std::string(key.status().message()), Not(HasSubstr(bad.substr(0, 16))));
}

TEST_F(MasterKeyTest, MissingEverywhereIsAClearError) {
  EXPECT_THAT(LoadMasterKey(""), StatusIs(absl::StatusCode::kFailedPrecondition,
                                          HasSubstr(kMasterKeyEnv)));
  EXPECT_THAT(LoadMasterKey(dir_.File("none")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("master key file")));
}

TEST_F(MasterKeyTest, DevelopmentKeyIsGeneratedOnceAndKept) {
  absl::StatusOr<crypto::SecretBytes> first = LoadOrCreateDevelopmentMasterKey(dir_.File("mk"), dir_.File("keyring"));
  ASSERT_OK(first);
  struct stat st;
  ASSERT_EQ(::stat(dir_.File("mk").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  absl::StatusOr<crypto::SecretBytes> second = LoadOrCreateDevelopmentMasterKey(dir_.File("mk"), dir_.File("keyring"));
  ASSERT_OK(second);
  EXPECT_TRUE(first->ConstantTimeEquals(*second));
}

TEST_F(MasterKeyTest, DevelopmentKeyIsNotGeneratedForAnExistingKeyring) {
  std::ofstream(dir_.File("keyring")) << "KBKR...";
  EXPECT_THAT(LoadOrCreateDevelopmentMasterKey(dir_.File("mk"), dir_.File("keyring")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is missing")));
  struct stat st;
  EXPECT_NE(::stat(dir_.File("mk").c_str(), &st), 0);
}

TEST_F(MasterKeyTest, DevelopmentModePrefersTheEnvironment) {
  ::setenv(kMasterKeyEnv, kHex, 1);
  absl::StatusOr<crypto::SecretBytes> key = LoadOrCreateDevelopmentMasterKey(dir_.File("mk"), dir_.File("keyring"));
  ASSERT_OK(key);
  EXPECT_EQ(key->Reveal()[31], 0x1f);
  struct stat st;
  EXPECT_NE(::stat(dir_.File("mk").c_str(), &st), 0) << "no file is written when the env is set";
}

TEST_F(MasterKeyTest, CreatedKeyFileReadsBackAndIsNeverReplaced) {
  absl::StatusOr<crypto::SecretBytes> created = CreateMasterKeyFile(dir_.File("mk"));
  ASSERT_OK(created);
  struct stat st;
  ASSERT_EQ(::stat(dir_.File("mk").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(st.st_size, 65) << "64 hex characters and a newline";
  absl::StatusOr<crypto::SecretBytes> read = LoadMasterKey(dir_.File("mk"));
  ASSERT_OK(read);
  EXPECT_TRUE(created->ConstantTimeEquals(*read));
  EXPECT_THAT(CreateMasterKeyFile(dir_.File("mk")), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_TRUE(LoadMasterKey(dir_.File("mk"))->ConstantTimeEquals(*read));
}

}  // namespace
}  // namespace keybroker::kms
