#include "server/broker_core.h"

#include "crypto/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/registry_factory.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::server {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::TempDir;

class BrokerCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config = EmbeddedDefaultConfig("127.0.0.1:0", dir_.path());
    absl::StatusOr<std::unique_ptr<KeyRegistry>> registry = BuildKeyRegistry(config);
    ASSERT_OK(registry);
    registry_ = *std::move(registry);
    core_ = std::make_unique<BrokerCore>(registry_.get());
  }

  TempDir dir_;
  std::unique_ptr<KeyRegistry> registry_;
  std::unique_ptr<BrokerCore> core_;
  crypto::EncryptionContext context_ =
      *crypto::EncryptionContext::FromPairs({{"tenant", "t1"}});
  kms::CallOptions options_;
};

TEST_F(BrokerCoreTest, GeneratedDekUnwrapsToItself) {
  absl::StatusOr<GeneratedDek> dek = core_->GenerateDek("default", context_, options_);
  ASSERT_OK(dek);
  EXPECT_EQ(dek->plaintext.size(), 32u);
  EXPECT_EQ(dek->key_version, "1");
  absl::StatusOr<UnwrappedDek> unwrapped = core_->Unwrap(dek->edek, context_, options_);
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(unwrapped->plaintext.ConstantTimeEquals(dek->plaintext));
  EXPECT_EQ(unwrapped->key_version, "1");
}

TEST_F(BrokerCoreTest, TwoDeksDiffer) {
  GeneratedDek a = *core_->GenerateDek("default", context_, options_);
  GeneratedDek b = *core_->GenerateDek("default", context_, options_);
  EXPECT_FALSE(a.plaintext.ConstantTimeEquals(b.plaintext));
  EXPECT_NE(a.edek, b.edek);
}

TEST_F(BrokerCoreTest, RewrapMovesToCurrentVersionKeepingTheDek) {
  GeneratedDek dek = *core_->GenerateDek("default", context_, options_);
  ASSERT_EQ(*core_->Rotate("default", options_), "2");
  absl::StatusOr<kms::WrappedKey> rewrapped = core_->Rewrap(dek.edek, context_, options_);
  ASSERT_OK(rewrapped);
  EXPECT_EQ(rewrapped->key_version, "2");
  EXPECT_TRUE(core_->Unwrap(rewrapped->edek, context_, options_)
                  ->plaintext.ConstantTimeEquals(dek.plaintext));
  EXPECT_THAT(core_->Rewrap(dek.edek, crypto::EncryptionContext(), options_),
              HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(BrokerCoreTest, WrapChecksSizeAndAlias) {
  EXPECT_THAT(core_->Wrap("default", crypto::SecretBytes(), context_, options_),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_THAT(core_->Wrap("default", crypto::SecretBytes(65), context_, options_),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_THAT(core_->Wrap("", crypto::SecretBytes(16), context_, options_),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_THAT(core_->Wrap("nope", crypto::SecretBytes(16), context_, options_),
              HasReason(ErrorReason::kKeyNotFound));
}

TEST_F(BrokerCoreTest, EdekOfAnUnconfiguredKmsIsInvalid) {
  crypto::Edek edek;
  edek.kms = crypto::EdekKms::kAzure;
  edek.algorithm = crypto::EdekAlgorithm::kRsaOaep256;
  edek.key_name = "vault/key";
  edek.key_version = "0123456789abcdef0123456789abcdef";
  edek.wrapped = std::string(256, 'x');
  EXPECT_THAT(core_->Unwrap(*crypto::EncodeEdek(edek), context_, options_),
              HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(BrokerCoreTest, DescribeReportsTheLocalKey) {
  absl::StatusOr<KeyStatus> status = core_->DescribeKey("default", options_);
  ASSERT_OK(status);
  EXPECT_TRUE(status->accessible);
  EXPECT_EQ(status->description.algorithm, "AES-256-GCM");
  EXPECT_EQ(status->description.kms, "local");
  EXPECT_FALSE(status->description.customer_managed);
  EXPECT_TRUE(status->description.quantum_resistant);
  EXPECT_THAT(core_->DescribeKey("nope", options_), HasReason(ErrorReason::kKeyNotFound));
}

}  // namespace
}  // namespace keybroker::server
