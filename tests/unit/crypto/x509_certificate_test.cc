#include "crypto/x509_certificate.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "crypto/rsa_pss_sign.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/openssl_cli.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

using ::keybroker::testing::StatusIs;

class X509CertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cli_.MakeSelfSigned(2048, "key.pem", "cert.pem")) << cli_.last_log();
  }

  keybroker::testing::OpensslCli cli_;
};

TEST_F(X509CertificateTest, DerAndThumbprintMatchOpenssl) {
  absl::StatusOr<X509Certificate> cert = X509Certificate::FromPem(cli_.Read("cert.pem"));
  ASSERT_OK(cert);
  ASSERT_TRUE(cli_.Run("x509 -in cert.pem -outform DER -out cert.der")) << cli_.last_log();
  EXPECT_EQ(cert->der(), cli_.Read("cert.der"));

  // "sha256 Fingerprint=AB:CD:...".
  ASSERT_TRUE(cli_.Run("x509 -in cert.pem -noout -fingerprint -sha256 -out fp.txt"))
      << cli_.last_log();
  std::string fingerprint(absl::StripAsciiWhitespace(cli_.Read("fp.txt")));
  fingerprint = absl::StrReplaceAll(fingerprint.substr(fingerprint.find('=') + 1), {{":", ""}});
  Sha256Digest thumbprint = cert->Sha256Thumbprint();
  EXPECT_EQ(absl::AsciiStrToLower(fingerprint),
            absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(thumbprint.data()), thumbprint.size())));
}

TEST_F(X509CertificateTest, PublicKeyMatchesTheKeyItWasMadeFor) {
  absl::StatusOr<X509Certificate> cert = X509Certificate::FromPem(cli_.Read("cert.pem"));
  ASSERT_OK(cert);
  absl::StatusOr<RsaPssSigner> key =
      RsaPssSigner::FromPem(SecretBytes::CopyFrom(cli_.Read("key.pem")));
  ASSERT_OK(key);
  EXPECT_EQ(cert->public_key_der(), key->public_key_der());

  ASSERT_TRUE(cli_.MakeSelfSigned(2048, "other_key.pem", "other_cert.pem")) << cli_.last_log();
  absl::StatusOr<X509Certificate> other = X509Certificate::FromPem(cli_.Read("other_cert.pem"));
  ASSERT_OK(other);
  EXPECT_NE(other->public_key_der(), key->public_key_der());
}

TEST_F(X509CertificateTest, TakesTheFirstCertificateAndSkipsKeys) {
  ASSERT_TRUE(cli_.MakeSelfSigned(2048, "key2.pem", "cert2.pem")) << cli_.last_log();
  absl::StatusOr<X509Certificate> first = X509Certificate::FromPem(cli_.Read("cert.pem"));
  ASSERT_OK(first);
  absl::StatusOr<X509Certificate> chain = X509Certificate::FromPem(
      cli_.Read("key.pem") + cli_.Read("cert.pem") + cli_.Read("cert2.pem"));
  ASSERT_OK(chain);
  EXPECT_EQ(chain->der(), first->der());
}

TEST_F(X509CertificateTest, RejectsWhatIsNotACertificate) {
  for (const std::string& text :
       {std::string(""), std::string("junk"), cli_.Read("key.pem"),
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        cli_.Read("cert.pem").substr(0, 300)}) {
    EXPECT_THAT(X509Certificate::FromPem(text), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace keybroker::crypto
