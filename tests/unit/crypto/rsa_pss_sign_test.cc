#include "crypto/rsa_pss_sign.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/bytes.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/openssl_cli.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// `openssl dgst` options for PS256: PSS, SHA-256 (MGF1 follows the digest).
constexpr char kPs256Verify[] =
    "dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32";

class RsaPssSignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cli_.Run("version")) << "these tests need the openssl command line tool";
  }

  absl::StatusOr<RsaPssSigner> Load(const std::string& name) {
    return RsaPssSigner::FromPem(SecretBytes::CopyFrom(cli_.Read(name)));
  }

  // Generates an RSA key of `bits` into priv.pem and its public key into pub.pem.
  void MakeKey(int bits) {
    ASSERT_TRUE(cli_.Run(
        absl::StrCat("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:", bits, " -out priv.pem")))
        << cli_.last_log();
    ASSERT_TRUE(cli_.Run("pkey -in priv.pem -pubout -out pub.pem")) << cli_.last_log();
  }

  // Signs `message` with the key in priv.pem; writes msg.bin and sig.bin.
  void SignToFiles(absl::string_view message) {
    absl::StatusOr<RsaPssSigner> signer = Load("priv.pem");
    ASSERT_OK(signer);
    absl::StatusOr<std::string> signature = signer->Sign(AsBytes(message));
    ASSERT_OK(signature);
    cli_.Write("msg.bin", message);
    cli_.Write("sig.bin", *signature);
  }

  bool OpensslVerifies(const std::string& options) {
    return cli_.Run(absl::StrCat(options, " -verify pub.pem -signature sig.bin msg.bin"));
  }

  keybroker::testing::OpensslCli cli_;
};

TEST_F(RsaPssSignTest, OpensslVerifiesThePs256Signature) {
  MakeKey(2048);
  SignToFiles("eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJ4In0");
  EXPECT_TRUE(OpensslVerifies(kPs256Verify)) << cli_.last_log();
  EXPECT_TRUE(OpensslVerifies(absl::StrCat(kPs256Verify, " -sigopt rsa_mgf1_md:sha256")))
      << cli_.last_log();
}

TEST_F(RsaPssSignTest, SaltIs32BytesAndMgf1IsSha256) {
  MakeKey(2048);
  SignToFiles("message");
  // Verification with an explicit salt length checks it, so only 32 passes.
  EXPECT_FALSE(
      OpensslVerifies("dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20"));
  EXPECT_FALSE(
      OpensslVerifies("dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:222"));
  EXPECT_FALSE(OpensslVerifies(absl::StrCat(kPs256Verify, " -sigopt rsa_mgf1_md:sha1")));
  // Not PKCS#1 v1.5 either.
  EXPECT_FALSE(OpensslVerifies("dgst -sha256"));
}

TEST_F(RsaPssSignTest, OpensslRejectsTheSignatureForAnotherMessage) {
  MakeKey(2048);
  SignToFiles("message");
  cli_.Write("msg.bin", "messagf");
  EXPECT_FALSE(OpensslVerifies(kPs256Verify));
}

TEST_F(RsaPssSignTest, SignaturesAreModulusSizedAndRandomized) {
  for (int bits : {2048, 3072}) {
    MakeKey(bits);
    absl::StatusOr<RsaPssSigner> signer = Load("priv.pem");
    ASSERT_OK(signer);
    EXPECT_EQ(signer->modulus_bits(), static_cast<size_t>(bits));
    absl::StatusOr<std::string> first = signer->Sign(AsBytes("m"));
    absl::StatusOr<std::string> second = signer->Sign(AsBytes("m"));
    ASSERT_OK(first);
    ASSERT_OK(second);
    EXPECT_THAT(*first, SizeIs(bits / 8));
    EXPECT_NE(*first, *second);  // a fresh random salt each time
  }
}

TEST_F(RsaPssSignTest, PublicKeyDerMatchesOpenssl) {
  MakeKey(2048);
  ASSERT_TRUE(cli_.Run("pkey -in priv.pem -pubout -outform DER -out pub.der")) << cli_.last_log();
  absl::StatusOr<RsaPssSigner> signer = Load("priv.pem");
  ASSERT_OK(signer);
  EXPECT_EQ(signer->public_key_der(), cli_.Read("pub.der"));
}

TEST_F(RsaPssSignTest, ReadsTraditionalPemAndACombinedCertificateFile) {
  ASSERT_TRUE(cli_.MakeSelfSigned(2048, "key.pem", "cert.pem")) << cli_.last_log();
  ASSERT_TRUE(cli_.Run("pkey -in key.pem -traditional -out trad.pem")) << cli_.last_log();
  ASSERT_THAT(cli_.Read("trad.pem"), HasSubstr("BEGIN RSA PRIVATE KEY"));
  cli_.Write("combined.pem", cli_.Read("cert.pem") + cli_.Read("key.pem"));
  absl::StatusOr<RsaPssSigner> pkcs8 = Load("key.pem");
  absl::StatusOr<RsaPssSigner> traditional = Load("trad.pem");
  absl::StatusOr<RsaPssSigner> combined = Load("combined.pem");
  ASSERT_OK(pkcs8);
  ASSERT_OK(traditional);
  ASSERT_OK(combined);
  EXPECT_EQ(traditional->public_key_der(), pkcs8->public_key_der());
  EXPECT_EQ(combined->public_key_der(), pkcs8->public_key_der());
}

TEST_F(RsaPssSignTest, RejectsSmallNonRsaEncryptedAndGarbageKeys) {
  ASSERT_TRUE(cli_.Run("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out small.pem"));
  ASSERT_TRUE(cli_.Run("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem"));
  ASSERT_TRUE(cli_.Run(
      "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:x -out enc.pem"));
  for (const char* name : {"small.pem", "ec.pem", "enc.pem"}) {
    EXPECT_THAT(Load(name), StatusIs(absl::StatusCode::kInvalidArgument)) << name;
  }
  std::vector<std::string> garbage = {
      "", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"};
  for (const std::string& text : garbage) {
    EXPECT_THAT(RsaPssSigner::FromPem(SecretBytes::CopyFrom(text)),
                StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr("AAAA"))))
        << text;
  }
}

}  // namespace
}  // namespace keybroker::crypto
