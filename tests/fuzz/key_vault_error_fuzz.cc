// libFuzzer target for the error answers of Key Vault and Managed HSM
// (kms_adapters/azure/key_vault_errors.h, error_text.h): status, headers and
// body of a response that is not 200 — or of a proxy in between. Input:
// lines with the HTTP status, the operation (get key, rotate, unwrapkey,
// encrypt, decrypt, rng; anything else is get key), the x-ms-request-id and
// the Retry-After header, then the body.
//
// Invariants:
// - the reason follows DESIGN.md's error table from the status alone (403:
//   KEY_DISABLED only when the body names KeyDisabled or
//   KeyOperationForbidden), with the reason's own code, and KMS_THROTTLED
//   carries the Retry-After delay (1 s when it is not a positive number);
// - the message, which reaches callers, has the fixed shape "<operation> on
//   <what> failed: HTTP <status>[ <code>][/<inner code>][ (x-ms-request-id
//   <id>)]" with identifier-shaped service fields: none of the service's
//   prose gets through;
// - one key_vault_error log line, valid JSON, whose detail is at most 1 KiB
//   of valid UTF-8 without control characters, and in which a bearer token
//   the body echoes is redacted.
#include <cstdint>
#include <regex>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "common/utf8.h"
#include "kms_adapters/azure/error_text.h"
#include "kms_adapters/azure/key_vault_errors.h"
#include "tests/fuzz/fuzz_support.h"

namespace keybroker::fuzz {
namespace {

namespace az = kms::azure;

constexpr absl::string_view kWhat =
    "key fuzz.vault.azure.net/kek version 0123456789abcdef0123456789abcdef";
constexpr absl::string_view kPlantedSecret = "fuzzPlantedBearerToken0123456789";

bool HasTheFixedShape(absl::string_view message, absl::string_view operation, int http_status) {
  static const std::regex* const kServiceFields = new std::regex(
      R"(( [A-Za-z0-9._-]{1,64})?(/[A-Za-z0-9._-]{1,64})?)"
      R"(( \(x-ms-request-id [A-Za-z0-9._-]{1,128}\))?)");
  return absl::ConsumePrefix(
             &message, absl::StrCat(operation, " on ", kWhat, " failed: HTTP ", http_status)) &&
         std::regex_match(message.begin(), message.end(), *kServiceFields);
}

ErrorReason ExpectedReason(int status, absl::string_view body, bool edek_operation) {
  if (status == 401) return ErrorReason::kKeyNotAccessible;
  if (status == 403) {
    return absl::StrContains(body, "KeyDisabled") ||
                   absl::StrContains(body, "KeyOperationForbidden")
               ? ErrorReason::kKeyDisabled  // only possibly: the table's oracle is the body's JSON
               : ErrorReason::kKeyNotAccessible;
  }
  if (status == 404) return ErrorReason::kKeyNotFound;
  if (status == 400 && edek_operation) return ErrorReason::kEdekInvalid;
  if (status == 429) return ErrorReason::kKmsThrottled;
  if (status >= 500) return ErrorReason::kKmsUnavailable;
  return ErrorReason::kInternal;
}

void CheckReason(const absl::Status& status, const az::HttpResponse& response,
                 bool edek_operation) {
  std::optional<ErrorReason> reason = ReasonOf(status);
  FUZZ_CHECK(reason.has_value() && status.code() == CodeForReason(*reason), status.ToString());
  ErrorReason expected = ExpectedReason(response.status, response.body, edek_operation);
  if (expected == ErrorReason::kKeyDisabled) {
    FUZZ_CHECK(*reason == ErrorReason::kKeyDisabled || *reason == ErrorReason::kKeyNotAccessible,
               status.ToString());
  } else {
    FUZZ_CHECK(*reason == expected, status.ToString());
  }
  std::optional<absl::Duration> delay = RetryDelayOf(status);
  FUZZ_CHECK(delay.has_value() == (*reason == ErrorReason::kKmsThrottled), status.ToString());
  if (delay.has_value()) {
    int64_t seconds = 0;
    bool given = absl::SimpleAtoi(response.Header("Retry-After"), &seconds) && seconds > 0;
    FUZZ_CHECK(*delay == (given ? absl::Seconds(seconds) : absl::Seconds(1)), status.ToString());
  }
}

void CheckLog(const std::vector<nlohmann::json>& lines, bool planted) {
  FUZZ_CHECK(lines.size() == 1, lines.size(), " log lines");
  const nlohmann::json& line = lines[0];
  FUZZ_CHECK(line.value("event", "") == "key_vault_error" && line.contains("detail") &&
                 line["detail"].is_string(),
             line.dump());
  const std::string& detail = line["detail"].get_ref<const std::string&>();
  FUZZ_CHECK(detail.size() <= az::kMaxDiagnosticText && IsValidUtf8(detail), line.dump());
  for (char c : detail) {
    FUZZ_CHECK(!absl::ascii_iscntrl(static_cast<unsigned char>(c)), line.dump());
  }
  if (planted) {
    FUZZ_CHECK(!absl::StrContains(line.dump(), kPlantedSecret), "a bearer token was logged");
  }
}

void TestOneInput(FuzzInput input) {
  static LogLines& log_lines = LogLines::Install();
  az::HttpResponse response;
  if (!absl::SimpleAtoi(input.Line(), &response.status)) response.status = 500;
  std::string operation = input.Line();
  if (operation != "rotate" && operation != "unwrapkey" && operation != "encrypt" &&
      operation != "decrypt" && operation != "rng") {
    operation = "get key";
  }
  const bool edek_operation = operation == "unwrapkey" || operation == "decrypt";
  response.headers = {{"x-ms-request-id", input.Line()}, {"Retry-After", input.Line()}};
  response.body = input.Rest();

  absl::Status status = az::KeyVaultError(response, operation, kWhat, edek_operation);
  CheckReason(status, response, edek_operation);
  FUZZ_CHECK(HasTheFixedShape(status.message(), operation, response.status), status.message());
  FUZZ_CHECK(
      KmsRequestIdOf(status) == az::ServiceIdentifier(response.Header("x-ms-request-id"), 128),
      status.ToString());
  CheckLog(log_lines.TakeChecked(), /*planted=*/false);

  // A proxy that echoes the request: its Authorization header must not
  // reach the log. (Unless the input has the same text where it may be
  // logged, e.g. as the request id.)
  const bool planted = !absl::StrContains(response.Header("x-ms-request-id"), kPlantedSecret) &&
                       !absl::StrContains(response.body, kPlantedSecret);
  response.body += absl::StrCat("\nAuthorization: Bearer ", kPlantedSecret, "\n");
  az::KeyVaultError(response, operation, kWhat, edek_operation).IgnoreError();
  CheckLog(log_lines.TakeChecked(), planted);
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::TestOneInput(keybroker::fuzz::FuzzInput(data, size));
  return 0;
}
