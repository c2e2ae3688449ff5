#include "kms_adapters/azure/entra/token_endpoint.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/kms_adapters/azure/entra_testing.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::EntraError;
using ::keybroker::testing::EntraToken;
using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

constexpr char kTenant[] = "11111111-2222-3333-4444-555555555555";
const absl::Time kNow = absl::FromUnixSeconds(1704067200);

TEST(TokenEndpointUrlTest, NormalisesTheAuthority) {
  const std::string expected =
      "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token";
  for (const char* authority :
       {"https://login.microsoftonline.com", "https://login.microsoftonline.com/",
        "https://login.microsoftonline.com//", "login.microsoftonline.com",
        " https://login.microsoftonline.com/\n"}) {
    absl::StatusOr<std::string> url = TokenEndpointUrl(authority, kTenant);
    ASSERT_OK(url) << authority;
    EXPECT_EQ(*url, expected) << authority;
  }
  EXPECT_EQ(*TokenEndpointUrl("https://login.microsoftonline.us/", "contoso.onmicrosoft.com"),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(*TokenEndpointUrl("https://127.0.0.1:40125", kTenant),
            absl::StrCat("https://127.0.0.1:40125/", kTenant, "/oauth2/v2.0/token"));
}

TEST(TokenEndpointUrlTest, RejectsUnusableAuthoritiesAndTenants) {
  for (const char* authority :
       {"", "http://login.microsoftonline.com", "ftp://x", "https://user@login.microsoftonline.com",
        "https://login.microsoftonline.com/?x=1", "https://"}) {
    EXPECT_THAT(TokenEndpointUrl(authority, kTenant), StatusIs(absl::StatusCode::kInvalidArgument))
        << authority;
  }
  for (const char* tenant : {"", "a/b", "..", "a b", "a?b", "%2e%2e", "a#b"}) {
    EXPECT_THAT(TokenEndpointUrl("https://login.microsoftonline.com", tenant),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << tenant;
  }
}

TEST(TokenEndpointTest, ParseClientIdTrimsAndRejectsJunk) {
  absl::StatusOr<std::string> id = ParseClientId("  aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n");
  ASSERT_OK(id);
  EXPECT_EQ(*id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  for (const char* bad : {"", " \n", "two words", "tab\there", "\x01"}) {
    EXPECT_THAT(ParseClientId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(TokenEndpointTest, TrimSecretKeepsInnerBytesAndNamesOnlyTheField) {
  absl::StatusOr<crypto::SecretBytes> trimmed =
      TrimSecret(crypto::SecretBytes::CopyFrom("\t s3cr et~.\r\n"), "client secret");
  ASSERT_OK(trimmed);
  EXPECT_EQ(trimmed->RevealAsStringView(), "s3cr et~.");
  EXPECT_THAT(TrimSecret(crypto::SecretBytes::CopyFrom(" \n"), "client secret"),
              StatusIs(absl::StatusCode::kInvalidArgument, "client secret is empty"));
}

TEST(TokenEndpointTest, PostsAnEncodedFormAndReturnsTheToken) {
  FakeHttpClient http([](const HttpRequest&) { return EntraToken("tok", 3600); });
  const FormField form[] = {{"grant_type", "client_credentials"},
                            {"client_secret", "a+b/c=d&e f~%"},
                            {"scope", "https://vault.azure.net/.default"}};
  absl::StatusOr<AccessToken> token = PostTokenRequest(http, "https://login/t/oauth2/v2.0/token",
                                                       form, kNow, kNow + absl::Seconds(10));
  ASSERT_OK(token);
  EXPECT_EQ(token->token.RevealAsStringView(), "tok");
  EXPECT_EQ(token->expires_at, kNow + absl::Seconds(3600));

  ASSERT_EQ(http.requests().size(), 1u);
  const HttpRequest request = http.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://login/t/oauth2/v2.0/token");
  EXPECT_THAT(request.headers,
              ::testing::Contains(Pair("Content-Type", "application/x-www-form-urlencoded")));
  EXPECT_EQ(request.body,
            "grant_type=client_credentials&client_secret=a%2Bb%2Fc%3Dd%26e%20f~%25"
            "&scope=https%3A%2F%2Fvault.azure.net%2F.default");
}

TEST(TokenEndpointTest, ErrorsNeverCarryTheForm) {
  FakeHttpClient http([](const HttpRequest&) {
    return EntraError(401, "invalid_client", 7000215, "Invalid client secret provided.");
  });
  const FormField form[] = {{"client_secret", "hunter2-secret"}};
  absl::StatusOr<AccessToken> token =
      PostTokenRequest(http, "https://login/t/oauth2/v2.0/token", form, kNow, kNow);
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(std::string(token.status().message()), Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace keybroker::kms::azure
