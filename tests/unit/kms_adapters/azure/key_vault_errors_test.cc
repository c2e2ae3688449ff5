#include "kms_adapters/azure/key_vault_errors.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::JsonResponse;
using ::keybroker::testing::LogCapture;
using ::testing::HasSubstr;
using ::testing::Not;

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
  // The customer's vault firewall or network ACL refusing the broker's address.
  EXPECT_THAT(KeyVaultError(Error(403, "Forbidden", "ForbiddenByFirewall"), "unwrapkey", "k", true),
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

// Every way Key Vault refuses the caller (§7.2), as the service words it: a
// role removed (RBAC), an access policy without the permission, a firewall
// that does not let the broker in, Managed HSM's AccessDenied. Each is the
// customer taking access away: KEY_NOT_ACCESSIBLE (whose cause is the
// customer, server/error_cause.h), with the codes in the message.
TEST(KeyVaultErrorsTest, EveryKindOfRefusalIsLostAccessNamedByItsCodes) {
  struct Case {
    std::string body, codes, inner;  // codes as the message shows them; innererror.code
  };
  const std::vector<Case> cases = {
      {R"({"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on )"
       R"(resource.\r\nCaller: appid=a;oid=o;iss=https://sts.windows.net/t/\r\nAction: )"
       R"('Microsoft.KeyVault/vaults/keys/unwrap/action'\r\n","innererror":)"
       R"({"code":"ForbiddenByRbac"}}})",
       "Forbidden/ForbiddenByRbac", "ForbiddenByRbac"},
      {R"({"error":{"code":"Forbidden","message":"The user, group or application 'appid=a;oid=o;)"
       R"(iss=https://sts.windows.net/t/' does not have keys unwrapKey permission on key vault )"
       R"('kv1;location=westus'. For help resolving this issue, please see )"
       R"(https://go.microsoft.com/fwlink/?linkid=2125287","innererror":)"
       R"({"code":"ForbiddenByPolicy"}}})",
       "Forbidden/ForbiddenByPolicy", "ForbiddenByPolicy"},
      // The 2020-era access-policy refusal had no innererror the reference recorded.
      {R"({"error":{"code":"Forbidden","message":"Access denied. Caller was not found on any )"
       R"(access policy.\r\nCaller: appid=a;oid=o"}})",
       "Forbidden", ""},
      {R"({"error":{"code":"Forbidden","message":"Client address (203.0.113.7) is not )"
       R"(authorized and caller is not a trusted service.\r\nClient address: 203.0.113.7\r\n)"
       R"(Caller: appid=a;oid=o;iss=https://sts.windows.net/t/\r\nVault: kv1;location=westus)"
       R"(\r\n","innererror":{"code":"ForbiddenByFirewall"}}})",
       "Forbidden/ForbiddenByFirewall", "ForbiddenByFirewall"},
      {R"({"error":{"code":"AccessDenied","message":"Not authorized to access Microsoft.KeyVault/)"
       R"(managedHsm/keys/decrypt/action on /keys/k (Activity ID: )"
       R"json(2a7c3a4e-0d3b-4c2e-9a55-0d4f3c2b1a09)"}})json",
       "AccessDenied", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.codes);
    LogCapture log;
    HttpResponse response = JsonResponse(403, c.body);
    response.headers.emplace_back("x-ms-request-id", "req-403");
    for (bool edek_operation : {true, false}) {
      absl::Status status = KeyVaultError(response, "unwrapkey", "key v/k", edek_operation);
      EXPECT_THAT(status, HasReason(ErrorReason::kKeyNotAccessible));
      EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
      EXPECT_THAT(std::string(status.message()),
                  HasSubstr(absl::StrCat("HTTP 403 ", c.codes, " (x-ms-request-id req-403)")));
      EXPECT_THAT(std::string(status.message()), Not(HasSubstr("appid")))
          << "the service's text stays in the log";
    }
    std::vector<nlohmann::json> lines = log.Events("key_vault_error");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["inner_code"], c.inner);
  }
}

TEST(KeyVaultErrorsTest, TransportFailuresSayWhoseTheyAre) {
  // The caller's deadline passed first: its own choice, not the vault's.
  EXPECT_THAT(TransportError(absl::DeadlineExceededError("deadline exceeded waiting for v"),
                             "unwrapkey", "k"),
              HasReason(ErrorReason::kDeadlineExceeded));
  // No answer within the broker's request timeout, a refused connection or a
  // TLS handshake failing on the broker's trust settings: the service's.
  EXPECT_THAT(TransportError(absl::UnavailableError("no response within 10s"), "get key", "k"),
              HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(TransportError(absl::UnavailableError("Error in SSL handshake"), "get key", "k"),
              HasReason(ErrorReason::kKmsUnavailable));
  absl::Status busy = TransportError(absl::ResourceExhaustedError("limit reached"), "rng", "h");
  EXPECT_THAT(busy, HasReason(ErrorReason::kKmsThrottled));
  EXPECT_TRUE(RetryDelayOf(busy).has_value());
  EXPECT_THAT(TransportError(absl::InvalidArgumentError("bad url"), "get key", "k"),
              HasReason(ErrorReason::kInternal));
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

// What Key Vault says about an RBAC refusal names the broker's principal and
// the vault's internals: for the operator's log, not for the caller.
TEST(KeyVaultErrorsTest, ServiceTextGoesToTheLogNotToTheCaller) {
  LogCapture log;
  std::string text = absl::StrCat(
      "Caller is not authorized to perform action on resource.\\r\\nCaller: appid=1234;oid=5678"
      "\\r\\nAction: 'Microsoft.KeyVault/vaults/keys/unwrap/action' ",
      std::string(5000, 'z'));
  HttpResponse response = JsonResponse(
      403, absl::StrCat(R"({"error":{"code":"Forbidden","message":")", text,
                        R"(","innererror":{"code":"ForbiddenByRbac"}}})"));
  response.headers.emplace_back("x-ms-request-id", "req-123");
  absl::Status status = KeyVaultError(response, "unwrapkey", "key v/k version 01", true);

  EXPECT_EQ(status.message(),
            "unwrapkey on key v/k version 01 failed: HTTP 403 Forbidden/ForbiddenByRbac "
            "(x-ms-request-id req-123)");
  EXPECT_EQ(KmsRequestIdOf(status), "req-123");
  std::vector<nlohmann::json> lines = log.Events("key_vault_error");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["operation"], "unwrapkey");
  EXPECT_EQ(lines[0]["key"], "key v/k version 01");
  EXPECT_EQ(lines[0]["http_status"], 403);
  EXPECT_EQ(lines[0]["code"], "Forbidden");
  EXPECT_EQ(lines[0]["inner_code"], "ForbiddenByRbac");
  EXPECT_EQ(lines[0]["kms_request_id"], "req-123");
  std::string detail = lines[0]["detail"];
  EXPECT_THAT(detail, HasSubstr("Caller: appid=1234;oid=5678  Action:"));
  EXPECT_EQ(detail.size(), 1024u) << "capped";
}

TEST(KeyVaultErrorsTest, HostileFieldsStayOutOfTheMessage) {
  LogCapture log;
  const std::string injected = "Forbidden\\nyou have been pwned, call +1-555-0100";
  HttpResponse response = JsonResponse(
      404, absl::StrCat(R"({"error":{"code":")", injected, std::string(3000, 'c'),
                        R"(","message":"<html>)", std::string(3000, 'm'),
                        R"(","innererror":{"code":"a b"}}})"));
  response.headers.emplace_back("x-ms-request-id", std::string(500, 'r'));
  absl::Status status = KeyVaultError(response, "get key", "key v/k", false);

  EXPECT_THAT(status, HasReason(ErrorReason::kKeyNotFound));
  EXPECT_EQ(status.message(), "get key on key v/k failed: HTTP 404");
  EXPECT_EQ(KmsRequestIdOf(status), "");
  std::vector<nlohmann::json> lines = log.Events("key_vault_error");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["code"], "");
  EXPECT_LE(lines[0]["detail"].get<std::string>().size(), 1024u);
  EXPECT_THAT(log.All(), Not(HasSubstr("pwned"))) << "only error.message is logged";

  HttpResponse html;  // a proxy's page instead of Key Vault's JSON
  html.status = 502;
  html.body = absl::StrCat("<html><body>Bad Gateway ", std::string(3000, 'h'), "</body></html>");
  absl::Status gateway = KeyVaultError(html, "get key", "key v/k", false);
  EXPECT_EQ(gateway.message(), "get key on key v/k failed: HTTP 502");
  lines = log.Events("key_vault_error");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[1]["detail"].get<std::string>(), HasSubstr("Bad Gateway"));
  EXPECT_EQ(lines[1]["detail"].get<std::string>().size(), 1024u);
}

}  // namespace
}  // namespace keybroker::kms::azure
