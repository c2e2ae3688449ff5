#include "kms_adapters/azure/entra/client_secret_credential.h"

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
#include "tests/testing/files.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/kms_adapters/azure/entra_testing.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::EntraError;
using ::keybroker::testing::EntraToken;
using ::keybroker::testing::FakeClock;
using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::FormFieldNames;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::LogCapture;
using ::keybroker::testing::ParseForm;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::TempDir;
using ::keybroker::testing::WriteAll;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTenant[] = "11111111-2222-3333-4444-555555555555";
constexpr char kClientId[] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
// Entra secrets use ~ . _ - and letters; '+', '/', '=' and '&' check the encoding.
constexpr char kSecret[] = "Xy8Q~a+b/c=d&e.f_g-h";
constexpr char kVaultScope[] = "https://vault.azure.net/.default";

ClientSecretCredential::Options MakeOptions(absl::string_view authority) {
  ClientSecretCredential::Options options;
  options.tenant_id = kTenant;
  options.client_id = crypto::SecretBytes::CopyFrom(absl::StrCat(kClientId, "\n"));
  options.client_secret = crypto::SecretBytes::CopyFrom(absl::StrCat("  ", kSecret, "\r\n"));
  options.authority_host = std::string(authority);
  return options;
}

class ClientSecretCredentialTest : public ::testing::Test {
 protected:
  std::unique_ptr<ClientSecretCredential> Make(absl::string_view authority) {
    absl::StatusOr<std::unique_ptr<ClientSecretCredential>> credential =
        ClientSecretCredential::Create(MakeOptions(authority), &http_, &clock_);
    EXPECT_OK(credential);
    return credential.ok() ? std::move(*credential) : nullptr;
  }

  FakeClock clock_;
  HttpResponse answer_ = EntraToken("the-access-token", 3599);
  FakeHttpClient http_{[this](const HttpRequest&) { return answer_; }};
};

TEST_F(ClientSecretCredentialTest, SendsTheExactForm) {
  std::unique_ptr<ClientSecretCredential> credential = Make("https://login.microsoftonline.com");
  ASSERT_NE(credential, nullptr);
  absl::StatusOr<AccessToken> token =
      credential->Fetch(kVaultScope, clock_.Now() + absl::Seconds(10));
  ASSERT_OK(token);
  EXPECT_EQ(token->token.RevealAsStringView(), "the-access-token");
  EXPECT_EQ(token->expires_at, clock_.Now() + absl::Seconds(3599));

  ASSERT_EQ(http_.requests().size(), 1u);
  const HttpRequest request = http_.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url,
            absl::StrCat("https://login.microsoftonline.com/", kTenant, "/oauth2/v2.0/token"));
  EXPECT_EQ(request.body,
            "grant_type=client_credentials"
            "&client_id=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
            "&client_secret=Xy8Q~a%2Bb%2Fc%3Dd%26e.f_g-h"
            "&scope=https%3A%2F%2Fvault.azure.net%2F.default");
  std::map<std::string, std::string> form = ParseForm(request.body);
  EXPECT_EQ(form["client_secret"], kSecret);  // trimmed, and decodes back exactly
  EXPECT_THAT(FormFieldNames(request.body),
              ElementsAre("grant_type", "client_id", "client_secret", "scope"));
}

TEST_F(ClientSecretCredentialTest, TokenUrlPerAuthority) {
  const std::pair<const char*, const char*> cases[] = {
      {"https://login.microsoftonline.com/", "https://login.microsoftonline.com/"},
      {"https://login.microsoftonline.us", "https://login.microsoftonline.us/"},
      {"login.chinacloudapi.cn", "https://login.chinacloudapi.cn/"},
      {"https://127.0.0.1:8443/", "https://127.0.0.1:8443/"},
  };
  for (const auto& [authority, prefix] : cases) {
    std::unique_ptr<ClientSecretCredential> credential = Make(authority);
    ASSERT_NE(credential, nullptr);
    ASSERT_OK(credential->Fetch(kVaultScope, absl::InfiniteFuture()));
    EXPECT_EQ(http_.requests().back().url, absl::StrCat(prefix, kTenant, "/oauth2/v2.0/token"));
  }
}

TEST_F(ClientSecretCredentialTest, EntraErrorsMapToReasonsWithoutTheSecret) {
  std::unique_ptr<ClientSecretCredential> credential = Make("https://login.microsoftonline.com");
  ASSERT_NE(credential, nullptr);
  const std::pair<HttpResponse, ErrorReason> cases[] = {
      {EntraError(401, "invalid_client", 7000215, "Invalid client secret provided."),
       ErrorReason::kKmsUnavailable},
      {EntraError(400, "unauthorized_client", 700016, "Application was not found."),
       ErrorReason::kKmsUnavailable},
      {EntraError(400, "invalid_tenant", 90002, "Tenant not found."),
       ErrorReason::kKmsUnavailable},
      {EntraError(400, "invalid_scope", 70011, "The scope is not valid."),
       ErrorReason::kKmsUnavailable},
      {EntraError(429, "temporarily_unavailable", 90055, "TenantThrottlingError"),
       ErrorReason::kKmsThrottled},
      {EntraError(503, "temporarily_unavailable", 90033, "A transient error."),
       ErrorReason::kKmsUnavailable},
  };
  for (const auto& [response, reason] : cases) {
    answer_ = response;
    absl::StatusOr<AccessToken> token = credential->Fetch(kVaultScope, absl::InfiniteFuture());
    EXPECT_THAT(token, HasReason(reason)) << response.body;
    EXPECT_THAT(std::string(token.status().message()), Not(HasSubstr("Xy8Q")));
  }
}

TEST_F(ClientSecretCredentialTest, TransportFailureIsUnavailable) {
  FakeHttpClient down([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return absl::UnavailableError("connection refused");
  });
  absl::StatusOr<std::unique_ptr<ClientSecretCredential>> credential =
      ClientSecretCredential::Create(MakeOptions("https://login.microsoftonline.com"), &down,
                                     &clock_);
  ASSERT_OK(credential);
  absl::StatusOr<AccessToken> token = (*credential)->Fetch(kVaultScope, absl::InfiniteFuture());
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(std::string(token.status().message()), Not(HasSubstr("Xy8Q")));
}

TEST_F(ClientSecretCredentialTest, CreateRejectsUnusableOptionsWithoutEchoingSecrets) {
  auto with = [](auto change) {
    ClientSecretCredential::Options options = MakeOptions("https://login.microsoftonline.com");
    change(options);
    return options;
  };
  ClientSecretCredential::Options cases[] = {
      with([](auto& o) { o.tenant_id = ""; }),
      with([](auto& o) { o.tenant_id = "../evil"; }),
      with([](auto& o) { o.client_id = crypto::SecretBytes::CopyFrom("\n"); }),
      with([](auto& o) { o.client_secret = crypto::SecretBytes::CopyFrom(" \r\n"); }),
      with([](auto& o) { o.authority_host = "http://login.microsoftonline.com"; }),
      with([](auto& o) { o.authority_host = ""; }),
  };
  for (ClientSecretCredential::Options& options : cases) {
    absl::StatusOr<std::unique_ptr<ClientSecretCredential>> credential =
        ClientSecretCredential::Create(std::move(options), &http_, &clock_);
    EXPECT_THAT(credential, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(credential.status().message()), Not(HasSubstr("Xy8Q")));
  }
  EXPECT_TRUE(http_.requests().empty());
}

// Rotation without restart: the secret's file is looked at before each token
// request and read again when it changed.
class ClientSecretFileTest : public ClientSecretCredentialTest {
 protected:
  // Replaces the file as rotation tools and Kubernetes do: a new file put in
  // place at once (a rewrite in place within one clock tick could keep its
  // size and times).
  void Replace(const std::string& contents, int mode = 0600) {
    WriteAll(file_ + ".new", contents);
    ASSERT_EQ(::chmod((file_ + ".new").c_str(), mode), 0);
    ASSERT_EQ(::rename((file_ + ".new").c_str(), file_.c_str()), 0);
  }

  std::unique_ptr<ClientSecretCredential> MakeFromFile() {
    ClientSecretCredential::Options options = MakeOptions("https://login.microsoftonline.com");
    options.client_secret = crypto::SecretBytes();
    options.client_secret_file = file_;
    absl::StatusOr<std::unique_ptr<ClientSecretCredential>> credential =
        ClientSecretCredential::Create(std::move(options), &http_, &clock_);
    EXPECT_OK(credential);
    return credential.ok() ? std::move(*credential) : nullptr;
  }

  // The client_secret of the last request sent.
  std::string SentSecret() { return ParseForm(http_.requests().back().body)["client_secret"]; }

  TempDir dir_;
  const std::string file_ = dir_.File("client-secret");
  LogCapture log_;
};

TEST_F(ClientSecretFileTest, TheNextTokenRequestUsesTheNewSecret) {
  Replace("first-secret-0000\n");
  std::unique_ptr<ClientSecretCredential> credential = MakeFromFile();
  ASSERT_NE(credential, nullptr);
  ASSERT_OK(credential->Fetch(kVaultScope, absl::InfiniteFuture()));
  EXPECT_EQ(SentSecret(), "first-secret-0000");
  ASSERT_OK(credential->Fetch(kVaultScope, absl::InfiniteFuture()));
  EXPECT_EQ(SentSecret(), "first-secret-0000");
  EXPECT_TRUE(log_.Events("entra_credential_reloaded").empty()) << "unchanged: not read again";

  Replace("  second-secret-11\r\n");
  ASSERT_OK(credential->Fetch(kVaultScope, absl::InfiniteFuture()));
  EXPECT_EQ(SentSecret(), "second-secret-11");
  std::vector<nlohmann::json> reloaded = log_.Events("entra_credential_reloaded");
  ASSERT_EQ(reloaded.size(), 1u);
  EXPECT_EQ(reloaded[0]["credential"], "entra client secret");
  EXPECT_EQ(reloaded[0]["files"], nlohmann::json::array({file_}));
}

TEST_F(ClientSecretFileTest, AnUnusableNewFileIsLoggedAndTheOldSecretKept) {
  Replace("first-secret-0000\n");
  std::unique_ptr<ClientSecretCredential> credential = MakeFromFile();
  ASSERT_NE(credential, nullptr);

  Replace(" \n");  // empty: half-written, or a mistake
  ASSERT_OK(credential->Fetch(kVaultScope, absl::InfiniteFuture()));
  EXPECT_EQ(SentSecret(), "first-secret-0000");
  ASSERT_OK(credential->Fetch(kVaultScope, absl::InfiniteFuture()));
  std::vector<nlohmann::json> failed = log_.Events("entra_credential_reload_failed");
  ASSERT_EQ(failed.size(), 1u) << "logged once per new version of the file, not per request";
  EXPECT_EQ(failed[0]["level"], "warn");
  EXPECT_EQ(failed[0]["files"], nlohmann::json::array({file_}));
  EXPECT_THAT(failed[0]["error"].get<std::string>(), HasSubstr("empty"));

  ASSERT_EQ(::unlink(file_.c_str()), 0);  // gone for a moment
  ASSERT_OK(credential->Fetch(kVaultScope, absl::InfiniteFuture()));
  EXPECT_EQ(SentSecret(), "first-secret-0000");
  EXPECT_EQ(log_.Events("entra_credential_reload_failed").size(), 2u);

  Replace("third-secret-2222");
  ASSERT_OK(credential->Fetch(kVaultScope, absl::InfiniteFuture()));
  EXPECT_EQ(SentSecret(), "third-secret-2222");
  EXPECT_THAT(log_.All(), AllOf(Not(HasSubstr("first-secret")), Not(HasSubstr("third-secret"))));
}

TEST_F(ClientSecretFileTest, AMissingFileFailsCreateAndAnOpenOneIsWarnedAbout) {
  ClientSecretCredential::Options options = MakeOptions("https://login.microsoftonline.com");
  options.client_secret_file = file_;
  absl::StatusOr<std::unique_ptr<ClientSecretCredential>> missing =
      ClientSecretCredential::Create(std::move(options), &http_, &clock_);
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound, HasSubstr(file_)));

  Replace("first-secret-0000\n", 0644);
  ASSERT_NE(MakeFromFile(), nullptr);
  std::vector<nlohmann::json> warned = log_.Events("secret_file_readable");
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0]["file"], file_);
  EXPECT_EQ(warned[0]["secret"], "entra client secret");
  EXPECT_THAT(log_.All(), Not(HasSubstr("first-secret")));
}

}  // namespace
}  // namespace keybroker::kms::azure
