#include "kms_adapters/azure/entra/managed_identity_credential.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::FakeClock;
using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::JsonResponse;
using ::keybroker::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;

// The §9.5 sample answer: expires_in and friends are JSON strings.
HttpResponse ImdsToken() {
  return JsonResponse(200, R"({"access_token":"mi-token","refresh_token":"",)"
                           R"("expires_in":"3599","expires_on":"1506484173",)"
                           R"("not_before":"1506480273","resource":"https://vault.azure.net",)"
                           R"("token_type":"Bearer"})");
}

class ManagedIdentityCredentialTest : public ::testing::Test {
 protected:
  std::unique_ptr<ManagedIdentityCredential> Make(ManagedIdentityCredential::Options options) {
    absl::StatusOr<std::unique_ptr<ManagedIdentityCredential>> credential =
        ManagedIdentityCredential::Create(options, &http_, &clock_);
    EXPECT_OK(credential);
    return credential.ok() ? std::move(*credential) : nullptr;
  }

  FakeClock clock_;
  HttpResponse answer_ = ImdsToken();
  FakeHttpClient http_{[this](const HttpRequest&) { return answer_; }};
};

TEST_F(ManagedIdentityCredentialTest, SystemAssignedIdentityRequest) {
  std::unique_ptr<ManagedIdentityCredential> credential = Make({});
  ASSERT_NE(credential, nullptr);
  absl::StatusOr<AccessToken> token =
      credential->Fetch("https://vault.azure.net/.default", absl::InfiniteFuture());
  ASSERT_OK(token);
  EXPECT_EQ(token->token.RevealAsStringView(), "mi-token");
  EXPECT_EQ(token->expires_at, clock_.Now() + absl::Seconds(3599));

  const HttpRequest request = http_.requests().at(0);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.url,
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
            "&resource=https%3A%2F%2Fvault.azure.net");
  EXPECT_THAT(request.headers, ElementsAre(Pair("Metadata", "true")));
  EXPECT_EQ(request.body, "");
}

TEST_F(ManagedIdentityCredentialTest, UserAssignedIdentityAndCustomEndpoint) {
  std::unique_ptr<ManagedIdentityCredential> credential =
      Make({"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "http://127.0.0.1:8080/"});
  ASSERT_NE(credential, nullptr);
  ASSERT_OK(credential->Fetch("https://managedhsm.azure.net/.default", absl::InfiniteFuture()));
  EXPECT_EQ(http_.requests().at(0).url,
            "http://127.0.0.1:8080/metadata/identity/oauth2/token?api-version=2018-02-01"
            "&resource=https%3A%2F%2Fmanagedhsm.azure.net"
            "&client_id=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
}

TEST_F(ManagedIdentityCredentialTest, ResourceHasNoDefaultSuffixOrTrailingSlash) {
  // A token for "https://vault.azure.net/" is refused by Key Vault (AKV10022, §1.4).
  EXPECT_EQ(ResourceForScope("https://vault.azure.net/.default"), "https://vault.azure.net");
  EXPECT_EQ(ResourceForScope("https://vault.azure.net//.default"), "https://vault.azure.net");
  EXPECT_EQ(ResourceForScope("https://vault.azure.net/"), "https://vault.azure.net");
  EXPECT_EQ(ResourceForScope("https://vault.usgovcloudapi.net"), "https://vault.usgovcloudapi.net");
}

TEST_F(ManagedIdentityCredentialTest, ErrorsMapToReasons) {
  std::unique_ptr<ManagedIdentityCredential> credential = Make({});
  ASSERT_NE(credential, nullptr);
  const std::pair<HttpResponse, ErrorReason> cases[] = {
      {JsonResponse(400, R"({"error":"invalid_request","error_description":"Identity not found"})"),
       ErrorReason::kKmsUnavailable},
      {JsonResponse(400, R"({"error":"invalid_resource","error_description":"AADSTS50001: The )"
                         R"(application named https://x was not found in the tenant."})"),
       ErrorReason::kKmsUnavailable},
      {JsonResponse(404, R"({"error":"not_found","error_description":"updating"})"),
       ErrorReason::kKmsUnavailable},
      {JsonResponse(410, "{}"), ErrorReason::kKmsUnavailable},
      {JsonResponse(429, R"({"error":"too_many_requests","error_description":"slow down"})"),
       ErrorReason::kKmsThrottled},
      {JsonResponse(500, R"({"error":"internal_error","error_description":"oops"})"),
       ErrorReason::kKmsUnavailable},
  };
  for (const auto& [response, reason] : cases) {
    answer_ = response;
    EXPECT_THAT(credential->Fetch("https://vault.azure.net/.default", absl::InfiniteFuture()),
                HasReason(reason))
        << response.body;
  }
}

TEST_F(ManagedIdentityCredentialTest, CreateRejectsBadEndpointsAndClientIds) {
  const ManagedIdentityCredential::Options bad[] = {
      {"", "169.254.169.254"},  // no scheme
      {"", "ftp://169.254.169.254"},
      {"", "http://169.254.169.254/metadata"},  // a path
      {"", "http://user@169.254.169.254"},
      {"two words", "http://169.254.169.254"},
  };
  for (const ManagedIdentityCredential::Options& options : bad) {
    EXPECT_THAT(ManagedIdentityCredential::Create(options, &http_, &clock_),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << options.endpoint << " " << options.client_id;
  }
}

}  // namespace
}  // namespace keybroker::kms::azure
