#include "kms_adapters/local/keyring_file.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "common/file_util.h"
#include "crypto/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::kms {
namespace {

using ::keybroker::testing::StatusIs;
using ::keybroker::testing::ReadAll;
using ::keybroker::testing::TempDir;
using ::keybroker::testing::WriteAll;
using ::testing::HasSubstr;

class KeyringFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = *crypto::RandomSecret(32);
    ASSERT_OK(keyring_.AddKey("k", absl::Now()));
    ASSERT_OK(keyring_.AddVersion("k", absl::Now()));
    ASSERT_OK(WriteKeyringFile(path_, master_, keyring_));
  }

  TempDir dir_;
  std::string path_ = dir_.File("keyring");
  crypto::SecretBytes master_;
  Keyring keyring_;
};

TEST_F(KeyringFileTest, RoundTripsAndIsPrivate) {
  absl::StatusOr<Keyring> read = ReadKeyringFile(path_, master_);
  ASSERT_OK(read);
  EXPECT_EQ(read->Current("k")->number, 2u);
  EXPECT_TRUE(read->Find("k", 1)->material.ConstantTimeEquals(keyring_.Find("k", 1)->material));
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(KeyringFileTest, KeyMaterialIsNotInTheFileInTheClear) {
  std::string file = ReadAll(path_);
  std::string material(keyring_.Find("k", 1)->material.RevealAsStringView());
  EXPECT_EQ(file.find(material), std::string::npos);
}

TEST_F(KeyringFileTest, WrongMasterKeyIsNamedAsSuch) {
  EXPECT_THAT(ReadKeyringFile(path_, *crypto::RandomSecret(32)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("wrong master key")));
}

TEST_F(KeyringFileTest, EveryTruncationIsRejected) {
  std::string file = ReadAll(path_);
  for (size_t n = 0; n < file.size(); ++n) {
    WriteAll(path_, file.substr(0, n));
    EXPECT_THAT(ReadKeyringFile(path_, master_), StatusIs(absl::StatusCode::kFailedPrecondition))
        << "truncated to " << n;
  }
}

TEST_F(KeyringFileTest, EveryFlippedByteIsRejected) {
  std::string file = ReadAll(path_);
  for (size_t i = 0; i < file.size(); ++i) {
    std::string corrupt = file;
    corrupt[i] ^= 0x01;
    WriteAll(path_, corrupt);
    EXPECT_THAT(ReadKeyringFile(path_, master_), StatusIs(absl::StatusCode::kFailedPrecondition))
        << "byte " << i;
  }
}

TEST_F(KeyringFileTest, CorruptionAndForeignFilesGetDistinctMessages) {
  std::string file = ReadAll(path_);
  file[file.size() - 20] ^= 0x40;
  WriteAll(path_, file);
  EXPECT_THAT(ReadKeyringFile(path_, master_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("corrupted")));
  WriteAll(path_, std::string(100, 'z'));
  EXPECT_THAT(ReadKeyringFile(path_, master_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a keybroker keyring")));
}

TEST_F(KeyringFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadKeyringFile(dir_.File("nothing"), master_),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(KeyringFileTest, EachWriteUsesAFreshNonce) {
  std::string first = ReadAll(path_);
  ASSERT_OK(WriteKeyringFile(path_, master_, keyring_));
  std::string second = ReadAll(path_);
  ASSERT_EQ(first.size(), second.size());
  EXPECT_NE(first.substr(13, 12), second.substr(13, 12));
}

}  // namespace
}  // namespace keybroker::kms
