#include "kms_adapters/local/keyring_admin.h"

#include "common/file_util.h"
#include "crypto/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kms_adapters/local/keyring_file.h"
#include "kms_adapters/local/local_kms.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::kms {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::ReadAll;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::TempDir;
using ::testing::HasSubstr;

class KeyringAdminTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string path_ = dir_.File("keyring");
  crypto::SecretBytes master_ = *crypto::RandomSecret(32);
};

TEST_F(KeyringAdminTest, InitWritesEachKeyAtVersionOne) {
  ASSERT_OK(InitKeyringFile(path_, master_, {"a", "b"}));
  absl::StatusOr<Keyring> keyring = ReadKeyringFile(path_, master_);
  ASSERT_OK(keyring);
  EXPECT_EQ(keyring->KeyNames(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(keyring->Current("b")->number, 1u);
}

TEST_F(KeyringAdminTest, InitNeverOverwritesAndRefusesBadKeyLists) {
  ASSERT_OK(InitKeyringFile(path_, master_, {"a"}));
  std::string before = ReadAll(path_);
  EXPECT_THAT(InitKeyringFile(path_, master_, {"a"}),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("never overwrites")));
  EXPECT_EQ(ReadAll(path_), before);
  EXPECT_THAT(InitKeyringFile(dir_.File("other"), master_, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(InitKeyringFile(dir_.File("other"), master_, {"a", "a"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already exists")));
  EXPECT_FALSE(FileExists(dir_.File("other")));
}

TEST_F(KeyringAdminTest, RotateAddsAVersionAndKeepsTheOthers) {
  ASSERT_OK(InitKeyringFile(path_, master_, {"a", "b"}));
  crypto::SecretBytes first = ReadKeyringFile(path_, master_)->Find("a", 1)->material.Clone();
  absl::StatusOr<uint32_t> version = RotateKeyringFile(path_, master_, "a");
  ASSERT_OK(version);
  EXPECT_EQ(*version, 2u);
  Keyring keyring = *ReadKeyringFile(path_, master_);
  EXPECT_EQ(keyring.Current("a")->number, 2u);
  EXPECT_TRUE(keyring.Find("a", 1)->material.ConstantTimeEquals(first));
  EXPECT_EQ(keyring.Current("b")->number, 1u);
}

TEST_F(KeyringAdminTest, RotateReportsWhatIsWrong) {
  EXPECT_THAT(RotateKeyringFile(path_, master_, "a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(FileExists(KeyringLockPath(path_))) << "no lock file beside a missing keyring";
  ASSERT_OK(InitKeyringFile(path_, master_, {"a"}));
  EXPECT_THAT(RotateKeyringFile(path_, master_, "nope"), HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(RotateKeyringFile(path_, *crypto::RandomSecret(32), "a"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("wrong master key")));
  EXPECT_EQ(ReadKeyringFile(path_, master_)->Current("a")->number, 1u);
}

TEST_F(KeyringAdminTest, RefusesWhileAWritableBrokerHoldsTheKeyring) {
  ASSERT_OK(InitKeyringFile(path_, master_, {"a"}));
  LocalKmsOptions options;
  options.keyring_file = path_;
  std::unique_ptr<LocalKms> writable = *LocalKms::Create(options, master_.Clone());
  EXPECT_THAT(RotateKeyringFile(path_, master_, "a"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another process")));
  EXPECT_THAT(InitKeyringFile(dir_.File("keyring"), master_, {"b"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another process")));
  writable.reset();
  EXPECT_OK(RotateKeyringFile(path_, master_, "a"));
}

}  // namespace
}  // namespace keybroker::kms
