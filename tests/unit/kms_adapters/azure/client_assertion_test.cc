#include "kms_adapters/azure/entra/client_assertion.h"

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "crypto/rsa_pss_sign.h"
#include "crypto/secret_bytes.h"
#include "crypto/x509_certificate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/openssl_cli.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/kms_adapters/azure/entra_jwt_testing.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::DecodedJwt;
using ::keybroker::testing::DecodeJwt;
using ::keybroker::testing::VerifyPs256;
using ::testing::MatchesRegex;

constexpr char kAudience[] =
    "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token";
constexpr char kClientId[] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const absl::Time kNow = absl::FromUnixSeconds(1704067200);

class ClientAssertionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cli_.MakeSelfSigned(2048, "key.pem", "cert.pem")) << cli_.last_log();
    cert_pem_ = cli_.Read("cert.pem");
    absl::StatusOr<crypto::X509Certificate> cert = crypto::X509Certificate::FromPem(cert_pem_);
    ASSERT_OK(cert);
    thumbprint_ = cert->Sha256Thumbprint();
    absl::StatusOr<crypto::RsaPssSigner> signer =
        crypto::RsaPssSigner::FromPem(crypto::SecretBytes::CopyFrom(cli_.Read("key.pem")));
    ASSERT_OK(signer);
    signer_ = std::make_unique<crypto::RsaPssSigner>(std::move(*signer));
  }

  DecodedJwt Make(absl::Time now = kNow) {
    absl::StatusOr<crypto::SecretBytes> jwt =
        MakeClientAssertion({kAudience, kClientId, now}, thumbprint_, *signer_);
    EXPECT_OK(jwt);
    return jwt.ok() ? DecodeJwt(jwt->RevealAsStringView()) : DecodedJwt();
  }

  keybroker::testing::OpensslCli cli_;
  std::string cert_pem_;
  crypto::Sha256Digest thumbprint_;
  std::unique_ptr<crypto::RsaPssSigner> signer_;
};

TEST_F(ClientAssertionTest, HeaderNamesPs256AndTheSha256Thumbprint) {
  DecodedJwt jwt = Make();
  ASSERT_TRUE(jwt.ok);
  // The thumbprint, recomputed with the openssl tool from the DER.
  ASSERT_TRUE(cli_.Run("x509 -in cert.pem -outform DER -out cert.der")) << cli_.last_log();
  ASSERT_TRUE(cli_.Run("dgst -sha256 -binary -out cert.sha256 cert.der")) << cli_.last_log();
  std::string expected_x5t;
  absl::WebSafeBase64Escape(cli_.Read("cert.sha256"), &expected_x5t);
  EXPECT_EQ(jwt.header,
            nlohmann::json({{"alg", "PS256"}, {"typ", "JWT"}, {"x5t#S256", expected_x5t}}));
  EXPECT_EQ(expected_x5t.size(), 43u);  // 32 bytes, unpadded
}

TEST_F(ClientAssertionTest, ClaimsFollowTheDocs) {
  DecodedJwt jwt = Make();
  ASSERT_TRUE(jwt.ok);
  EXPECT_EQ(jwt.claims["aud"], kAudience);
  EXPECT_EQ(jwt.claims["iss"], kClientId);
  EXPECT_EQ(jwt.claims["sub"], kClientId);
  EXPECT_EQ(jwt.claims["nbf"], 1704067200);
  EXPECT_EQ(jwt.claims["iat"], 1704067200);
  EXPECT_EQ(jwt.claims["exp"], 1704067200 + 600);
  ASSERT_TRUE(jwt.claims["jti"].is_string());
  EXPECT_THAT(jwt.claims["jti"].get<std::string>(),
              MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  EXPECT_EQ(jwt.claims.size(), 7u);
}

TEST_F(ClientAssertionTest, SignatureVerifiesWithTheCertificatesKey) {
  DecodedJwt jwt = Make();
  ASSERT_TRUE(jwt.ok);
  EXPECT_EQ(jwt.signature.size(), 256u);
  EXPECT_TRUE(VerifyPs256(jwt, cert_pem_));

  // Any change to the signed parts breaks it.
  DecodedJwt tampered = jwt;
  tampered.parts[1][5] = tampered.parts[1][5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPs256(tampered, cert_pem_));
  // And another certificate's key does not verify it.
  ASSERT_TRUE(cli_.MakeSelfSigned(2048, "other.key", "other.pem")) << cli_.last_log();
  EXPECT_FALSE(VerifyPs256(jwt, cli_.Read("other.pem")));
}

TEST_F(ClientAssertionTest, EachAssertionIsFresh) {
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    DecodedJwt jwt = Make(kNow + absl::Seconds(i));
    ASSERT_TRUE(jwt.ok);
    ids.insert(jwt.claims["jti"].get<std::string>());
    EXPECT_EQ(jwt.claims["iat"], 1704067200 + i);
  }
  EXPECT_EQ(ids.size(), 20u);
}

}  // namespace
}  // namespace keybroker::kms::azure
