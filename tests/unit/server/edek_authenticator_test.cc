#include "server/edek_authenticator.h"

#include "crypto/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::server {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::TempDir;

crypto::EncryptionContext Context(absl::string_view tenant) {
  return *crypto::EncryptionContext::FromPairs({{"tenant", tenant}});
}

// An RSA EDEK as the Azure adapter makes it: no IV, no tag.
crypto::Edek RsaEdek() {
  crypto::Edek edek;
  edek.kms = crypto::EdekKms::kAzure;
  edek.algorithm = crypto::EdekAlgorithm::kRsaOaep256;
  edek.key_name = "vault-a.vault.azure.net/fhir-cmk";
  edek.key_version = "0123456789abcdef0123456789abcdef";
  edek.wrapped = std::string(256, '\x42');
  return edek;
}

class EdekAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kms::LocalKmsOptions options;
    options.keyring_file = dir_.File("keyring");
    options.required_keys = {"edek-auth"};
    auto local = kms::LocalKms::Create(options, *crypto::RandomSecret(32));
    ASSERT_OK(local);
    local_ = *std::move(local);
  }

  TempDir dir_;
  std::unique_ptr<kms::LocalKms> local_;
};

TEST_F(EdekAuthenticatorTest, ASealedEdekChecksUnderItsContextOnly) {
  EdekAuthenticator authenticator(local_.get(), "edek-auth", false);
  absl::StatusOr<std::string> sealed = authenticator.Seal(RsaEdek(), Context("acme"));
  ASSERT_OK(sealed);
  crypto::Edek edek = *crypto::DecodeEdek(*sealed);
  EXPECT_EQ(edek.tag.size(), 32u);
  EXPECT_EQ(edek.iv, "1") << "the local key's version";
  EXPECT_OK(authenticator.Check(edek, Context("acme")));
  EXPECT_THAT(authenticator.Check(edek, Context("globex")), HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(EdekAuthenticatorTest, AForgedOrTamperedEdekIsRefused) {
  EdekAuthenticator authenticator(local_.get(), "edek-auth", false);
  // Minted by someone with the public key: no tag.
  EXPECT_THAT(authenticator.Check(RsaEdek(), Context("acme")),
              HasReason(ErrorReason::kEdekInvalid));
  crypto::Edek edek = *crypto::DecodeEdek(*authenticator.Seal(RsaEdek(), Context("acme")));
  crypto::Edek wrapped_changed = edek;
  wrapped_changed.wrapped[0] ^= 1;
  EXPECT_THAT(authenticator.Check(wrapped_changed, Context("acme")),
              HasReason(ErrorReason::kEdekInvalid));
  crypto::Edek version_changed = edek;
  version_changed.key_version = "ffffffffffffffffffffffffffffffff";
  EXPECT_THAT(authenticator.Check(version_changed, Context("acme")),
              HasReason(ErrorReason::kEdekInvalid));
  crypto::Edek unknown_auth_version = edek;
  unknown_auth_version.iv = "7";
  EXPECT_THAT(authenticator.Check(unknown_auth_version, Context("acme")),
              HasReason(ErrorReason::kEdekInvalid));
  crypto::Edek short_tag = edek;
  short_tag.tag.resize(16);
  EXPECT_THAT(authenticator.Check(short_tag, Context("acme")),
              HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(EdekAuthenticatorTest, OldVersionsOfTheLocalKeyStillVerify) {
  EdekAuthenticator authenticator(local_.get(), "edek-auth", false);
  crypto::Edek before = *crypto::DecodeEdek(*authenticator.Seal(RsaEdek(), Context("acme")));
  ASSERT_OK(local_->Rotate("edek-auth", {}));
  crypto::Edek after = *crypto::DecodeEdek(*authenticator.Seal(RsaEdek(), Context("acme")));
  EXPECT_EQ(after.iv, "2");
  EXPECT_NE(before.tag, after.tag);
  EXPECT_OK(authenticator.Check(before, Context("acme")));
  EXPECT_OK(authenticator.Check(after, Context("acme")));
}

TEST_F(EdekAuthenticatorTest, UntaggedEdeksPassOnlyWhenAcceptedAndATagMustAlwaysVerify) {
  EdekAuthenticator migrating(local_.get(), "edek-auth", /*accept_unauthenticated=*/true);
  EXPECT_OK(migrating.Check(RsaEdek(), Context("acme")));
  crypto::Edek edek = *crypto::DecodeEdek(*migrating.Seal(RsaEdek(), Context("acme")));
  edek.tag[3] ^= 1;
  EXPECT_THAT(migrating.Check(edek, Context("acme")), HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(EdekAuthenticatorTest, AesGcmEdeksAreLeftAlone) {
  EdekAuthenticator authenticator(local_.get(), "edek-auth", false);
  crypto::Edek gcm = RsaEdek();
  gcm.algorithm = crypto::EdekAlgorithm::kAes256Gcm;
  EXPECT_FALSE(EdekAuthenticator::Applies(gcm));
  EXPECT_OK(authenticator.Check(gcm, Context("acme")));
}

}  // namespace
}  // namespace keybroker::server
