#include "kms_adapters/azure/entra/client_certificate_credential.h"

#include <stdio.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/openssl_cli.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/kms_adapters/azure/entra_jwt_testing.h"
#include "tests/unit/kms_adapters/azure/entra_testing.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::DecodedJwt;
using ::keybroker::testing::DecodeJwt;
using ::keybroker::testing::EntraError;
using ::keybroker::testing::EntraToken;
using ::keybroker::testing::FakeClock;
using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::FormFieldNames;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::LogCapture;
using ::keybroker::testing::ParseForm;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::VerifyPs256;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTenant[] = "11111111-2222-3333-4444-555555555555";
constexpr char kClientId[] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
constexpr char kScope[] = "https://managedhsm.azure.net/.default";

class ClientCertificateCredentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cli_.MakeSelfSigned(2048, "key.pem", "cert.pem")) << cli_.last_log();
  }

  ClientCertificateCredential::Options Options(const std::string& cert_file = "cert.pem",
                                               const std::string& key_file = "key.pem") {
    ClientCertificateCredential::Options options;
    options.tenant_id = kTenant;
    options.client_id = crypto::SecretBytes::CopyFrom(absl::StrCat(kClientId, "\n"));
    options.certificate_pem = cli_.Read(cert_file);
    options.private_key_pem = crypto::SecretBytes::CopyFrom(cli_.Read(key_file));
    options.authority_host = "https://login.microsoftonline.us/";
    return options;
  }

  std::unique_ptr<ClientCertificateCredential> Make() {
    absl::StatusOr<std::unique_ptr<ClientCertificateCredential>> credential =
        ClientCertificateCredential::Create(Options(), &http_, &clock_);
    EXPECT_OK(credential);
    return credential.ok() ? std::move(*credential) : nullptr;
  }

  keybroker::testing::OpensslCli cli_;
  FakeClock clock_;
  HttpResponse answer_ = EntraToken("cert-token", 3599);
  FakeHttpClient http_{[this](const HttpRequest&) { return answer_; }};
};

TEST_F(ClientCertificateCredentialTest, SendsASignedAssertionForTheTokenUrl) {
  std::unique_ptr<ClientCertificateCredential> credential = Make();
  ASSERT_NE(credential, nullptr);
  absl::StatusOr<AccessToken> token = credential->Fetch(kScope, absl::InfiniteFuture());
  ASSERT_OK(token);
  EXPECT_EQ(token->token.RevealAsStringView(), "cert-token");
  EXPECT_EQ(token->expires_at, clock_.Now() + absl::Seconds(3599));

  ASSERT_EQ(http_.requests().size(), 1u);
  const HttpRequest request = http_.requests()[0];
  const std::string token_url =
      absl::StrCat("https://login.microsoftonline.us/", kTenant, "/oauth2/v2.0/token");
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, token_url);
  EXPECT_THAT(
      FormFieldNames(request.body),
      ElementsAre("grant_type", "client_id", "client_assertion_type", "client_assertion", "scope"));
  std::map<std::string, std::string> form = ParseForm(request.body);
  EXPECT_EQ(form["grant_type"], "client_credentials");
  EXPECT_EQ(form["client_id"], kClientId);
  EXPECT_EQ(form["client_assertion_type"],
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  EXPECT_THAT(request.body, HasSubstr("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                                      "client-assertion-type%3Ajwt-bearer"));
  EXPECT_EQ(form["scope"], kScope);
  EXPECT_THAT(form, Not(::testing::Contains(::testing::Key("client_secret"))));

  DecodedJwt jwt = DecodeJwt(form["client_assertion"]);
  ASSERT_TRUE(jwt.ok) << form["client_assertion"];
  EXPECT_EQ(jwt.header["alg"], "PS256");
  EXPECT_EQ(jwt.claims["aud"], token_url);
  EXPECT_EQ(jwt.claims["iss"], kClientId);
  EXPECT_EQ(jwt.claims["sub"], kClientId);
  EXPECT_EQ(jwt.claims["iat"], absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(jwt.claims["exp"], absl::ToUnixSeconds(clock_.Now()) + 600);
  EXPECT_TRUE(VerifyPs256(jwt, cli_.Read("cert.pem")));
}

TEST_F(ClientCertificateCredentialTest, EveryFetchSignsANewAssertionAtTheClocksTime) {
  std::unique_ptr<ClientCertificateCredential> credential = Make();
  ASSERT_NE(credential, nullptr);
  ASSERT_OK(credential->Fetch(kScope, absl::InfiniteFuture()));
  clock_.Advance(absl::Minutes(45));
  ASSERT_OK(credential->Fetch(kScope, absl::InfiniteFuture()));
  ASSERT_EQ(http_.requests().size(), 2u);
  DecodedJwt first = DecodeJwt(ParseForm(http_.requests()[0].body)["client_assertion"]);
  DecodedJwt second = DecodeJwt(ParseForm(http_.requests()[1].body)["client_assertion"]);
  ASSERT_TRUE(first.ok && second.ok);
  EXPECT_NE(first.claims["jti"], second.claims["jti"]);
  EXPECT_EQ(second.claims["nbf"].get<int64_t>() - first.claims["nbf"].get<int64_t>(), 45 * 60);
  EXPECT_TRUE(VerifyPs256(second, cli_.Read("cert.pem")));
}

TEST_F(ClientCertificateCredentialTest, ACombinedPemFileServesAsBoth) {
  cli_.Write("combined.pem", cli_.Read("key.pem") + cli_.Read("cert.pem"));
  EXPECT_OK(ClientCertificateCredential::Create(Options("combined.pem", "combined.pem"), &http_,
                                                &clock_));
}

TEST_F(ClientCertificateCredentialTest, CreateRefusesMismatchedOrUnusableKeys) {
  ASSERT_TRUE(cli_.MakeSelfSigned(2048, "other_key.pem", "other_cert.pem")) << cli_.last_log();
  absl::StatusOr<std::unique_ptr<ClientCertificateCredential>> mismatched =
      ClientCertificateCredential::Create(Options("cert.pem", "other_key.pem"), &http_, &clock_);
  EXPECT_THAT(mismatched, StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("does not hold the certificate's private key")));

  ASSERT_TRUE(cli_.Run("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem"));
  ASSERT_TRUE(cli_.Run("req -x509 -key ec.pem -out ec_cert.pem -days 1 -subj /CN=ec"));
  ASSERT_TRUE(cli_.MakeSelfSigned(1024, "small_key.pem", "small_cert.pem")) << cli_.last_log();
  const std::pair<const char*, const char*> unusable[] = {
      {"key.pem", "key.pem"},               // no certificate
      {"cert.pem", "cert.pem"},             // no key
      {"ec_cert.pem", "ec.pem"},            // PS256 needs RSA
      {"small_cert.pem", "small_key.pem"},  // under 2048 bits
  };
  for (const auto& [cert, key] : unusable) {
    absl::StatusOr<std::unique_ptr<ClientCertificateCredential>> credential =
        ClientCertificateCredential::Create(Options(cert, key), &http_, &clock_);
    EXPECT_THAT(credential, StatusIs(absl::StatusCode::kInvalidArgument)) << cert << " " << key;
    EXPECT_THAT(std::string(credential.status().message()), Not(HasSubstr("PRIVATE KEY")));
  }
  EXPECT_TRUE(http_.requests().empty());
}

TEST_F(ClientCertificateCredentialTest, RefusedAssertionIsAServiceFaultWithoutTheAssertion) {
  std::unique_ptr<ClientCertificateCredential> credential = Make();
  ASSERT_NE(credential, nullptr);
  answer_ =
      EntraError(401, "invalid_client", 700027, "Client assertion contains an invalid signature.");
  absl::StatusOr<AccessToken> token = credential->Fetch(kScope, absl::InfiniteFuture());
  // The broker's certificate, not the customer's key.
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
  std::string assertion = ParseForm(http_.requests()[0].body)["client_assertion"];
  EXPECT_THAT(std::string(token.status().message()),
              AllOf(HasSubstr("AADSTS700027"), Not(HasSubstr(assertion.substr(0, 20))),
                    Not(HasSubstr("eyJ"))));
}

// Rotation without restart: the files are looked at before each token
// request, and a new pair is used once it is complete and belongs together.
class ClientCertificateFileTest : public ClientCertificateCredentialTest {
 protected:
  // Puts `from` in place of `to` at once, as rotation tools and Kubernetes do.
  void Replace(const std::string& from, const std::string& to) {
    cli_.Write("staged.pem", cli_.Read(from));
    ASSERT_EQ(::rename(cli_.Path("staged.pem").c_str(), cli_.Path(to).c_str()), 0);
  }

  std::unique_ptr<ClientCertificateCredential> MakeFromFiles() {
    ClientCertificateCredential::Options options = Options();
    options.certificate_pem.clear();
    options.private_key_pem = crypto::SecretBytes();
    options.certificate_file = cli_.Path("live-cert.pem");
    options.private_key_file = cli_.Path("live-key.pem");
    absl::StatusOr<std::unique_ptr<ClientCertificateCredential>> credential =
        ClientCertificateCredential::Create(std::move(options), &http_, &clock_);
    EXPECT_OK(credential);
    return credential.ok() ? std::move(*credential) : nullptr;
  }

  // The assertion of the last request sent.
  DecodedJwt SentAssertion() {
    return DecodeJwt(ParseForm(http_.requests().back().body)["client_assertion"]);
  }

  LogCapture log_;
};

TEST_F(ClientCertificateFileTest, ARotatedPairSignsTheNextAssertion) {
  ASSERT_TRUE(cli_.MakeSelfSigned(2048, "next_key.pem", "next_cert.pem")) << cli_.last_log();
  Replace("cert.pem", "live-cert.pem");
  Replace("key.pem", "live-key.pem");
  std::unique_ptr<ClientCertificateCredential> credential = MakeFromFiles();
  ASSERT_NE(credential, nullptr);
  ASSERT_OK(credential->Fetch(kScope, absl::InfiniteFuture()));
  DecodedJwt first = SentAssertion();
  ASSERT_TRUE(first.ok);
  EXPECT_TRUE(VerifyPs256(first, cli_.Read("cert.pem")));

  // The certificate first: alone it does not match the key, so the old pair
  // stays in use (logged), until the key follows.
  Replace("next_cert.pem", "live-cert.pem");
  ASSERT_OK(credential->Fetch(kScope, absl::InfiniteFuture()));
  EXPECT_TRUE(VerifyPs256(SentAssertion(), cli_.Read("cert.pem")));
  EXPECT_EQ(SentAssertion().header["x5t#S256"], first.header["x5t#S256"]);
  std::vector<nlohmann::json> failed = log_.Events("entra_credential_reload_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["credential"], "entra client certificate");
  EXPECT_EQ(failed[0]["files"],
            nlohmann::json::array({cli_.Path("live-cert.pem"), cli_.Path("live-key.pem")}));
  EXPECT_THAT(failed[0]["error"].get<std::string>(), HasSubstr("does not hold"));

  Replace("next_key.pem", "live-key.pem");
  ASSERT_OK(credential->Fetch(kScope, absl::InfiniteFuture()));
  DecodedJwt rotated = SentAssertion();
  ASSERT_TRUE(rotated.ok);
  EXPECT_TRUE(VerifyPs256(rotated, cli_.Read("next_cert.pem")));
  EXPECT_NE(rotated.header["x5t#S256"], first.header["x5t#S256"]);
  EXPECT_EQ(log_.Events("entra_credential_reloaded").size(), 1u);
  EXPECT_THAT(log_.All(), Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(ClientCertificateFileTest, BothFilesAreNeededAndAnOpenKeyIsWarnedAbout) {
  ClientCertificateCredential::Options options = Options();
  options.certificate_file = cli_.Path("cert.pem");
  EXPECT_THAT(ClientCertificateCredential::Create(std::move(options), &http_, &clock_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_file")));

  Replace("cert.pem", "live-cert.pem");
  Replace("key.pem", "live-key.pem");
  ASSERT_EQ(::chmod(cli_.Path("live-key.pem").c_str(), 0644), 0);
  ASSERT_NE(MakeFromFiles(), nullptr);
  std::vector<nlohmann::json> warned = log_.Events("secret_file_readable");
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0]["file"], cli_.Path("live-key.pem"));
  EXPECT_EQ(warned[0]["secret"], "entra client certificate key");
}

}  // namespace
}  // namespace keybroker::kms::azure
