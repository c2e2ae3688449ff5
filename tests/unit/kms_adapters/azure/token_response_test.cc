#include "kms_adapters/azure/entra/token_response.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/kms_adapters/azure/entra_testing.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::EntraError;
using ::keybroker::testing::EntraToken;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::JsonResponse;
using ::keybroker::testing::LogCapture;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

const absl::Time kRequestedAt = absl::FromUnixSeconds(1704067200);

absl::StatusOr<AccessToken> Entra(HttpResponse response) {
  return TokenFromResponse(TokenService::kEntraId, std::move(response), kRequestedAt);
}

absl::StatusOr<AccessToken> Imds(HttpResponse response) {
  return TokenFromResponse(TokenService::kImds, std::move(response), kRequestedAt);
}

TEST(TokenResponseTest, EntraSuccessWithNumericExpiresIn) {
  absl::StatusOr<AccessToken> token = Entra(EntraToken("eyJ0eXAi.abc.def", 86399));
  ASSERT_OK(token);
  EXPECT_EQ(token->token.RevealAsStringView(), "eyJ0eXAi.abc.def");
  EXPECT_EQ(token->expires_at, kRequestedAt + absl::Seconds(86399));
}

TEST(TokenResponseTest, ImdsSuccessWithStringExpiresIn) {
  // The §9.5 sample, strings and all.
  absl::StatusOr<AccessToken> token = Imds(
      JsonResponse(200, R"({"access_token":"eyJ0eXAi...","refresh_token":"","expires_in":"3599",)"
                        R"("expires_on":"1506484173","not_before":"1506480273",)"
                        R"("resource":"https://vault.azure.net","token_type":"Bearer"})"));
  ASSERT_OK(token);
  EXPECT_EQ(token->token.RevealAsStringView(), "eyJ0eXAi...");
  EXPECT_EQ(token->expires_at, kRequestedAt + absl::Seconds(3599));
}

TEST(TokenResponseTest, TokenTypeIsCaseInsensitiveAndFloatExpiresInIsAccepted) {
  absl::StatusOr<AccessToken> token =
      Entra(JsonResponse(200, R"({"token_type":"bearer","expires_in":60.0,"access_token":"t"})"));
  ASSERT_OK(token);
  EXPECT_EQ(token->expires_at, kRequestedAt + absl::Seconds(60));
}

TEST(TokenResponseTest, MalformedSuccessIsUnavailableAndNeverEchoesTheToken) {
  const char* bodies[] = {
      "not json",
      "[]",
      R"({"token_type":"Bearer","expires_in":3599})",
      R"({"token_type":"Bearer","expires_in":3599,"access_token":""})",
      R"({"token_type":"Bearer","expires_in":3599,"access_token":42})",
      R"({"token_type":"PoP","expires_in":3599,"access_token":"secret-token"})",
      R"({"expires_in":3599,"access_token":"secret-token"})",
      R"({"token_type":"Bearer","access_token":"secret-token"})",
      R"({"token_type":"Bearer","expires_in":0,"access_token":"secret-token"})",
      R"({"token_type":"Bearer","expires_in":-5,"access_token":"secret-token"})",
      R"({"token_type":"Bearer","expires_in":"soon","access_token":"secret-token"})",
      R"({"token_type":"Bearer","expires_in":null,"access_token":"secret-token"})",
      R"({"token_type":"Bearer","expires_in":1e300,"access_token":"secret-token"})",
      R"({"token_type":"Bearer","expires_in":18446744073709551615,"access_token":"secret-token"})",
      R"({"token_type":"Bearer","expires_in":"99999999999","access_token":"secret-token"})",
  };
  for (const char* body : bodies) {
    absl::StatusOr<AccessToken> token = Entra(JsonResponse(200, body));
    EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable)) << body;
    EXPECT_THAT(std::string(token.status().message()),
                AllOf(HasSubstr("malformed"), Not(HasSubstr("secret-token"))))
        << body;
  }
}

struct ErrorCase {
  int status;
  const char* error;
  int code;
  ErrorReason reason;
};

// §9.4: the broker's identity is refused -> KMS_UNAVAILABLE (the operator's
// credential, never the customer's key); Entra cannot answer ->
// KMS_THROTTLED / KMS_UNAVAILABLE.
TEST(TokenResponseTest, EntraErrorsMapToReasons) {
  const ErrorCase cases[] = {
      {401, "invalid_client", 7000215, ErrorReason::kKmsUnavailable},
      {401, "invalid_client", 7000222, ErrorReason::kKmsUnavailable},
      {400, "unauthorized_client", 700016, ErrorReason::kKmsUnavailable},
      {400, "invalid_tenant", 90002, ErrorReason::kKmsUnavailable},
      {400, "invalid_request", 90002, ErrorReason::kKmsUnavailable},
      {400, "invalid_request", 70021, ErrorReason::kKmsUnavailable},
      {400, "invalid_scope", 70011, ErrorReason::kKmsUnavailable},
      {401, "invalid_client", 700027, ErrorReason::kKmsUnavailable},
      {400, "invalid_grant", 700024, ErrorReason::kKmsUnavailable},
      {429, "temporarily_unavailable", 90055, ErrorReason::kKmsThrottled},
      {500, "server_error", 50000, ErrorReason::kKmsUnavailable},
      {503, "temporarily_unavailable", 90033, ErrorReason::kKmsUnavailable},
      {400, "temporarily_unavailable", 90033, ErrorReason::kKmsUnavailable},
  };
  for (const ErrorCase& c : cases) {
    absl::StatusOr<AccessToken> token =
        Entra(EntraError(c.status, c.error, c.code, "Something about the app 'aaaa'."));
    EXPECT_THAT(token, HasReason(c.reason)) << c.error << " " << c.code;
    std::string message(token.status().message());
    EXPECT_THAT(message, HasSubstr(absl::StrCat("HTTP ", c.status))) << message;
    EXPECT_THAT(message, HasSubstr(c.error)) << message;
    EXPECT_THAT(message, HasSubstr(absl::StrCat("AADSTS", c.code))) << message;
    EXPECT_THAT(message, HasSubstr("[trace id 0b1c, correlation id 9e8d]")) << message;
    EXPECT_THAT(message, Not(HasSubstr("Something about the app"))) << "for the log only";
    if (c.status != 429 && c.status < 500 && std::string(c.error) != "temporarily_unavailable") {
      EXPECT_THAT(message, HasSubstr("refused the broker's own credential")) << message;
    }
  }
}

// The description names the application and tenant: the operator reads it in
// the log, under the ids the caller was given.
TEST(TokenResponseTest, DescriptionGoesToTheLogNotToTheCaller) {
  LogCapture log;
  absl::StatusOr<AccessToken> token = Entra(EntraError(
      401, "invalid_client", 7000215, "Invalid client secret provided for app 'aaaa'."));
  EXPECT_EQ(token.status().message(),
            "entra id refused the broker's own credential: HTTP 401 invalid_client AADSTS7000215 "
            "[trace id 0b1c, correlation id 9e8d]");
  std::vector<nlohmann::json> lines = log.Events("entra_token_error");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["service"], "entra id");
  EXPECT_EQ(lines[0]["http_status"], 401);
  EXPECT_EQ(lines[0]["error"], "invalid_client");
  EXPECT_EQ(lines[0]["error_code"], 7000215);
  EXPECT_EQ(lines[0]["trace_id"], "0b1c");
  EXPECT_EQ(lines[0]["correlation_id"], "9e8d");
  EXPECT_THAT(lines[0]["detail"].get<std::string>(),
              AllOf(HasSubstr("AADSTS7000215: Invalid client secret provided for app 'aaaa'."),
                    HasSubstr("Correlation ID: 9e8d"), Not(HasSubstr("\r"))));
}

TEST(TokenResponseTest, AadstsComesFromErrorCodesWhenTheDescriptionLacksIt) {
  absl::StatusOr<AccessToken> token = Entra(
      JsonResponse(400, R"({"error":"invalid_scope","error_description":"The scope is not valid.",)"
                        R"("error_codes":[70011]})"));
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_EQ(token.status().message(),
            "entra id refused the broker's own credential: HTTP 400 invalid_scope AADSTS70011");
}

TEST(TokenResponseTest, ThrottlingCarriesRetryAfter) {
  HttpResponse response = EntraError(429, "temporarily_unavailable", 90055, "Throttled.");
  response.headers.emplace_back("Retry-After", "7");
  absl::StatusOr<AccessToken> token = Entra(response);
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsThrottled));
  EXPECT_THAT(RetryDelayOf(token.status()), Optional(absl::Seconds(7)));

  absl::StatusOr<AccessToken> without = Entra(JsonResponse(429, ""));
  EXPECT_THAT(without, HasReason(ErrorReason::kKmsThrottled));
  EXPECT_EQ(RetryDelayOf(without.status()), std::nullopt);
}

TEST(TokenResponseTest, NonJsonErrorBodiesStillMap) {
  HttpResponse html;
  html.status = 502;
  html.body = "<html>Bad Gateway</html>";
  EXPECT_THAT(Entra(html), HasReason(ErrorReason::kKmsUnavailable));
  html.status = 403;
  absl::StatusOr<AccessToken> forbidden = Entra(html);
  EXPECT_THAT(forbidden, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(std::string(forbidden.status().message()), HasSubstr("HTTP 403"));
  html.status = 302;  // a redirect is not followed: not a refusal either
  EXPECT_THAT(Entra(html), HasReason(ErrorReason::kKmsUnavailable));
}

TEST(TokenResponseTest, NoResponseIsUnavailable) {
  for (absl::Status failure : {absl::UnavailableError("connection refused"),
                               absl::DeadlineExceededError("deadline passed")}) {
    absl::StatusOr<AccessToken> token = TokenFromResponse(
        TokenService::kEntraId, absl::StatusOr<HttpResponse>(failure), kRequestedAt);
    EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
    EXPECT_THAT(std::string(token.status().message()),
                AllOf(HasSubstr("entra id"), HasSubstr(failure.message())));
  }
}

TEST(TokenResponseTest, ImdsErrors) {
  auto imds_error = [](int status, const char* error, const char* description) {
    return JsonResponse(status, absl::StrCat(R"({"error":")", error, R"(","error_description":")",
                                             description, R"("})"));
  };
  // IMDS is updating (404) or starting (410): come back later (§9.5).
  EXPECT_THAT(Imds(imds_error(404, "not_found", "IMDS is updating")),
              HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(Imds(imds_error(410, "gone", "Try again")), HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(Imds(imds_error(429, "too_many_requests", "Too many requests")),
              HasReason(ErrorReason::kKmsThrottled));
  EXPECT_THAT(Imds(imds_error(503, "service_unavailable", "Unavailable")),
              HasReason(ErrorReason::kKmsUnavailable));
  absl::StatusOr<AccessToken> not_found =
      Imds(imds_error(400, "invalid_request", "Identity not found"));
  EXPECT_THAT(not_found, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_EQ(not_found.status().message(),
            "imds refused the broker's own credential: HTTP 400 invalid_request");
  EXPECT_THAT(Imds(imds_error(400, "bad_request_102", "Required metadata header not specified")),
              HasReason(ErrorReason::kKmsUnavailable));
  // Entra's 404 is not IMDS's "updating": a wrong authority is a refusal.
  EXPECT_THAT(Entra(JsonResponse(404, "{}")), HasReason(ErrorReason::kKmsUnavailable));
}

TEST(TokenResponseTest, LongOrHostileErrorBodiesAreBounded) {
  LogCapture log;
  std::string description(5000, 'x');
  absl::StatusOr<AccessToken> token = Entra(JsonResponse(
      400, absl::StrCat(R"({"error":"invalid_request","error_description":")", description,
                        R"(\u0007\u00ff","trace_id":"<script>alert(1)</script>",)",
                        R"("correlation_id":")", std::string(500, 'c'), R"("})")));
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_EQ(token.status().message(),
            "entra id refused the broker's own credential: HTTP 400 invalid_request");
  std::vector<nlohmann::json> lines = log.Events("entra_token_error");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["detail"].get<std::string>(), std::string(1024, 'x'));
  EXPECT_THAT(log.All(), Not(HasSubstr("<script>")));

  HttpResponse html;  // a proxy's page instead of Entra's JSON
  html.status = 403;
  html.body = absl::StrCat("<html>Access denied by proxy ", std::string(3000, 'p'), "</html>");
  absl::StatusOr<AccessToken> proxied = Entra(html);
  EXPECT_EQ(proxied.status().message(), "entra id refused the broker's own credential: HTTP 403");
  lines = log.Events("entra_token_error");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[1]["detail"].get<std::string>(), HasSubstr("Access denied by proxy"));
  EXPECT_EQ(lines[1]["detail"].get<std::string>().size(), 1024u);
}

}  // namespace
}  // namespace keybroker::kms::azure
