#include "kms_adapters/azure/key_vault_errors.h"

#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::JsonResponse;
using ::testing::HasSubstr;

HttpResponse Error(int status, const std::string& code, const std::string& inner = "") {
  std::string body = R"({"error":{"code":")" + code + R"(","message":"m")" +
                     (inner.empty() ? "" : R"(,"innererror":{"code":")" + inner + R"("})") + "}}";
  HttpResponse response = JsonResponse(status, body);
  response.headers.emplace_back("x-ms-request-id", "req-123");
  return response;
}

TEST(KeyVaultErrorsTest, MapsTheDesignTable) {
  EXPECT_THAT(KeyVaultError(Error(401, "Unauthorized"), "get key", "k", false),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(KeyVaultError(Error(403, "Forbidden", "ForbiddenByRbac"), "unwrapkey", "k", true),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(KeyVaultError(Error(403, "Forbidden", "ForbiddenByPolicy"), "get key", "k", false),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(KeyVaultError(Error(403, "AccessDenied"), "decrypt", "k", true),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(KeyVaultError(Error(403, "Forbidden", "KeyDisabled"), "unwrapkey", "k", true),
              HasReason(ErrorReason::kKeyDisabled));
  EXPECT_THAT(KeyVaultError(Error(403, "Forbidden", "KeyOperationForbidden"), "decrypt", "k", true),
              HasReason(ErrorReason::kKeyDisabled));
  EXPECT_THAT(KeyVaultError(Error(403, "Forbidden"), "encrypt", "k", false),
              HasReason(ErrorReason::kKeyNotAccessible)) << "a bare 403 is lost access";
  EXPECT_THAT(KeyVaultError(Error(404, "KeyNotFound"), "get key", "k", false),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(KeyVaultError(Error(400, "BadParameter"), "unwrapkey", "k", true),
              HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(KeyVaultError(Error(400, "BadParameter"), "get key", "k", false),
              HasReason(ErrorReason::kInternal));
  EXPECT_THAT(KeyVaultError(Error(503, "ServiceUnavailable"), "get key", "k", false),
              HasReason(ErrorReason::kKmsUnavailable));
}

TEST(KeyVaultErrorsTest, ThrottlingCarriesRetryAfter) {
  HttpResponse response = Error(429, "Throttled");
  response.headers.emplace_back("Retry-After", "7");
  absl::Status status = KeyVaultError(response, "unwrapkey", "k", true);
  EXPECT_THAT(status, HasReason(ErrorReason::kKmsThrottled));
  EXPECT_EQ(RetryDelayOf(status), absl::Seconds(7));
  EXPECT_EQ(RetryDelayOf(KeyVaultError(Error(429, "Throttled"), "x", "k", false)),
            absl::Seconds(1));
}

TEST(KeyVaultErrorsTest, MessageNamesCodesAndRequestIdAndToleratesEmptyBodies) {
  absl::Status status =
      KeyVaultError(Error(403, "Forbidden", "ForbiddenByRbac"), "unwrapkey", "key v/k", true);
  EXPECT_THAT(std::string(status.message()), HasSubstr("Forbidden/ForbiddenByRbac"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("req-123"));
  HttpResponse empty;
  empty.status = 401;  // Managed HSM's challenge has no body (§2.1)
  EXPECT_THAT(KeyVaultError(empty, "get key", "k", false),
              HasReason(ErrorReason::kKeyNotAccessible));
}

}  // namespace
}  // namespace keybroker::kms::azure
