// libFuzzer target for the answers of the token services (kms_adapters/
// azure/entra/token_response.h): Entra ID's token endpoint and IMDS. Input: a
// line "<entra|imds> <HTTP status>" ("-" for no answer at all), a line with
// the Retry-After header, then the body.
//
// Invariants:
// - a token is returned only from a 200 whose JSON has that access_token, a
//   Bearer token_type and an expires_in, and it expires 1 s to 366 days after
//   the request;
// - every failure has the reason of the header's table (KMS_UNAVAILABLE,
//   KMS_THROTTLED with the Retry-After delay, KEY_NOT_ACCESSIBLE) and a
//   message of fixed shape: the service, the HTTP status and
//   identifier-shaped error fields, never the body's prose or a token;
// - a 200 writes no log line (it holds a token); any other answer writes one
//   entra_token_error line, valid JSON, whose detail is at most 1 KiB of
//   valid UTF-8.
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "common/utf8.h"
#include "kms_adapters/azure/entra/token_response.h"
#include "kms_adapters/azure/error_text.h"
#include "tests/fuzz/fuzz_support.h"

namespace keybroker::fuzz {
namespace {

namespace az = kms::azure;

const absl::Time kRequestedAt = absl::FromUnixSeconds(1704067200);

// What follows the service's verdict: "HTTP <status>[ <error>][ AADSTS<n>][ [trace id
// <id>, correlation id <id>]]", every field identifier-shaped.
bool IsDescription(absl::string_view text, int status) {
  static const std::regex* const kShape = new std::regex(
      R"(( [A-Za-z0-9._-]{1,64})?( AADSTS[0-9]+)?)"
      R"(( \[trace id [A-Za-z0-9._-]{0,64}, correlation id [A-Za-z0-9._-]{0,64}\])?)");
  if (!absl::ConsumePrefix(&text, absl::StrCat("HTTP ", status))) return false;
  return std::regex_match(text.begin(), text.end(), *kShape);
}

void CheckSuccess(const az::AccessToken& token, const az::HttpResponse& response) {
  FUZZ_CHECK(response.status == 200);
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  FUZZ_CHECK(body.is_object() && body.contains("access_token") &&
             body["access_token"].is_string() && body.contains("token_type") &&
             body["token_type"].is_string() && body.contains("expires_in"));
  FUZZ_CHECK(token.token.RevealAsStringView() == body["access_token"].get<std::string>());
  FUZZ_CHECK(absl::EqualsIgnoreCase(body["token_type"].get<std::string>(), "Bearer"));
  absl::Duration lifetime = token.expires_at - kRequestedAt;
  FUZZ_CHECK(lifetime >= absl::Seconds(1) && lifetime <= absl::Hours(366 * 24),
             absl::FormatDuration(lifetime));
}

void CheckFailure(const absl::Status& status, absl::string_view service,
                  const absl::StatusOr<az::HttpResponse>& response) {
  std::optional<ErrorReason> reason = ReasonOf(status);
  FUZZ_CHECK(reason.has_value() && status.code() == CodeForReason(*reason), status.ToString());
  absl::string_view message = status.message();
  FUZZ_CHECK(IsValidUtf8(message), message);
  if (!response.ok()) {
    FUZZ_CHECK(*reason == ErrorReason::kKmsUnavailable, status.ToString());
    return;
  }
  const int http = response->status;
  if (http == 200) {
    FUZZ_CHECK(*reason == ErrorReason::kKmsUnavailable, status.ToString());
    bool known = false;
    for (absl::string_view problem : {"not a JSON object", "no access_token",
                                      "token_type is not Bearer", "no positive expires_in"}) {
      known = known || message == absl::StrCat(service, " returned a malformed token response (",
                                               problem, ")");
    }
    FUZZ_CHECK(known, message);
    return;
  }
  absl::string_view rest = message;
  FUZZ_CHECK(absl::ConsumePrefix(&rest, service) && absl::ConsumePrefix(&rest, " "), message);
  ErrorReason expected;
  if (absl::ConsumePrefix(&rest, "throttled the token request: ")) {
    expected = ErrorReason::kKmsThrottled;
    FUZZ_CHECK(http == 429, message);
  } else if (absl::ConsumePrefix(&rest, "could not issue a token: ")) {
    expected = ErrorReason::kKmsUnavailable;
    bool imds_busy = service == "imds" && (http == 404 || http == 410);
    FUZZ_CHECK(http >= 500 || http < 400 || imds_busy ||
                   absl::StrContains(response->body, "temporarily_unavailable"),
               message);
  } else {
    // The broker's own credential refused: the operator's fault, which pages
    // (KMS_UNAVAILABLE), never the customer's.
    FUZZ_CHECK(absl::ConsumePrefix(&rest, "refused the broker's own credential: "), message);
    expected = ErrorReason::kKmsUnavailable;
    FUZZ_CHECK(http >= 400 && http < 500 && http != 429, message);
  }
  FUZZ_CHECK(*reason == expected, status.ToString());
  FUZZ_CHECK(IsDescription(rest, http), message);
  int64_t seconds = 0;
  bool delay_given =
      http == 429 && absl::SimpleAtoi(response->Header("Retry-After"), &seconds) && seconds >= 0;
  std::optional<absl::Duration> delay = RetryDelayOf(status);
  FUZZ_CHECK(delay.has_value() == delay_given, status.ToString());
  if (delay_given) FUZZ_CHECK(*delay == absl::Seconds(seconds), status.ToString());
}

void CheckLog(const std::vector<nlohmann::json>& lines,
              const absl::StatusOr<az::HttpResponse>& response) {
  if (!response.ok() || response->status == 200) {
    FUZZ_CHECK(lines.empty(), "a token answer was logged");
    return;
  }
  FUZZ_CHECK(lines.size() == 1, lines.size(), " log lines");
  const nlohmann::json& line = lines[0];
  FUZZ_CHECK(line.value("event", "") == "entra_token_error" && line.contains("detail") &&
                 line["detail"].is_string(),
             line.dump());
  const std::string& detail = line["detail"].get_ref<const std::string&>();
  FUZZ_CHECK(detail.size() <= az::kMaxDiagnosticText && IsValidUtf8(detail), line.dump());
}

void TestOneInput(FuzzInput input) {
  static LogLines& log_lines = LogLines::Install();
  std::string first = input.Line();
  absl::string_view what = first;
  const bool imds = absl::ConsumePrefix(&what, "imds ");
  if (!imds) absl::ConsumePrefix(&what, "entra ");
  const az::TokenService service = imds ? az::TokenService::kImds : az::TokenService::kEntraId;
  const std::string service_name = imds ? "imds" : "entra id";

  absl::StatusOr<az::HttpResponse> response;
  if (what == "-") {
    response = absl::UnavailableError("connection refused");
    input.Rest();
  } else {
    az::HttpResponse answer;
    if (!absl::SimpleAtoi(what, &answer.status)) answer.status = 200;
    answer.headers = {{"Retry-After", input.Line()}};
    answer.body = input.Rest();
    response = std::move(answer);
  }

  absl::StatusOr<az::AccessToken> token = az::TokenFromResponse(service, response, kRequestedAt);
  if (token.ok()) {
    CheckSuccess(*token, *response);
  } else {
    CheckFailure(token.status(), service_name, response);
  }
  CheckLog(log_lines.TakeChecked(), response);
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::TestOneInput(keybroker::fuzz::FuzzInput(data, size));
  return 0;
}
