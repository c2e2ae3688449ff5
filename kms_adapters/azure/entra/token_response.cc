#include "kms_adapters/azure/entra/token_response.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/error_reason.h"
#include "common/utf8.h"
#include "crypto/wipe.h"
#include "nlohmann/json.hpp"

namespace keybroker::kms::azure {
namespace {

using Json = nlohmann::json;

// Long enough for Entra's longest first lines (AADSTS700016 is ~330 bytes).
constexpr size_t kMaxDescription = 512;
constexpr size_t kMaxToken = 64 * 1024;
constexpr int64_t kMaxExpiresIn = 366 * 24 * 3600;

absl::string_view ServiceName(TokenService service) {
  return service == TokenService::kImds ? "imds" : "entra id";
}

// `text` cut to `max` bytes, control characters (Entra ends lines with \r\n)
// as spaces, valid UTF-8: it ends up in logs and gRPC status messages.
std::string Printable(absl::string_view text, size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) c = ' ';
  }
  return ToValidUtf8(out);
}

std::string StringField(const Json& body, const char* name, size_t max) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return "";
  return Printable(it->get_ref<const std::string&>(), max);
}

// "HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided. ...
// [trace id ..., correlation id ...]" from an Entra or IMDS error body; just
// "HTTP 401" when the body is not one. Sets `oauth_error` to the "error".
std::string DescribeError(const HttpResponse& response, std::string* oauth_error) {
  std::string text = absl::StrCat("HTTP ", response.status);
  Json body = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return text;
  *oauth_error = StringField(body, "error", 64);
  if (!oauth_error->empty()) absl::StrAppend(&text, " ", *oauth_error);
  std::string description;
  auto raw = body.find("error_description");
  if (raw != body.end() && raw->is_string()) {
    // Only the first line: the rest repeats the trace and correlation ids.
    absl::string_view all = raw->get_ref<const std::string&>();
    description = Printable(absl::StripAsciiWhitespace(all.substr(0, all.find_first_of("\r\n"))),
                            kMaxDescription);
  }
  auto codes = body.find("error_codes");
  if (!absl::StartsWith(description, "AADSTS") && codes != body.end() && codes->is_array() &&
      !codes->empty() && (*codes)[0].is_number_integer()) {
    absl::StrAppend(&text, " AADSTS", (*codes)[0].get<int64_t>());
  }
  if (!description.empty()) absl::StrAppend(&text, ": ", description);
  std::string trace_id = StringField(body, "trace_id", 64);
  std::string correlation_id = StringField(body, "correlation_id", 64);
  if (!trace_id.empty() || !correlation_id.empty()) {
    absl::StrAppend(&text, " [trace id ", trace_id, ", correlation id ", correlation_id, "]");
  }
  return text;
}

absl::Status ErrorFromStatus(TokenService service, const HttpResponse& response) {
  std::string oauth_error;
  std::string what = DescribeError(response, &oauth_error);
  absl::string_view name = ServiceName(service);
  int status = response.status;
  if (status == 429) {
    absl::Status error = MakeError(ErrorReason::kKmsThrottled,
                                   absl::StrCat(name, " throttled the token request: ", what));
    int64_t seconds = 0;
    if (absl::SimpleAtoi(response.Header("Retry-After"), &seconds) && seconds >= 0) {
      SetRetryDelay(error, absl::Seconds(seconds));
    }
    return error;
  }
  // IMDS answers 404 while it is being updated and 410 for up to 70 s after
  // start (§9.5); Entra's temporarily_unavailable is its transient failure.
  bool imds_busy = service == TokenService::kImds && (status == 404 || status == 410);
  if (status >= 500 || status < 400 || imds_busy || oauth_error == "temporarily_unavailable") {
    return MakeError(ErrorReason::kKmsUnavailable,
                     absl::StrCat(name, " could not issue a token: ", what));
  }
  // The identity itself is refused: wrong secret, unknown client or tenant,
  // no federated credential, bad scope. Retrying will not help.
  return MakeError(ErrorReason::kKeyNotAccessible,
                   absl::StrCat(name, " refused the token request: ", what));
}

absl::Status Malformed(TokenService service, absl::string_view problem) {
  return MakeError(
      ErrorReason::kKmsUnavailable,
      absl::StrCat(ServiceName(service), " returned a malformed token response (", problem, ")"));
}

// expires_in is a JSON number from Entra (§9.1) and a string from IMDS (§9.5).
// Real lifetimes are at most a day; the bound keeps the arithmetic sane.
bool ParseExpiresIn(const Json& value, int64_t* seconds) {
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(kMaxExpiresIn)) return false;
    *seconds = static_cast<int64_t>(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    *seconds = value.get<int64_t>();
  } else if (value.is_number_float()) {
    double number = value.get<double>();
    if (!(number > 0 && number <= kMaxExpiresIn)) return false;
    *seconds = static_cast<int64_t>(number);
  } else if (!value.is_string() ||
             !absl::SimpleAtoi(value.get_ref<const std::string&>(), seconds)) {
    return false;
  }
  return *seconds > 0 && *seconds <= kMaxExpiresIn;
}

absl::StatusOr<AccessToken> ParseSuccess(TokenService service, std::string& body_text,
                                         absl::Time requested_at) {
  Json body = Json::parse(body_text, nullptr, /*allow_exceptions=*/false);
  crypto::WipeString(&body_text);
  if (!body.is_object()) return Malformed(service, "not a JSON object");
  auto token = body.find("access_token");
  auto type = body.find("token_type");
  auto expires_in = body.find("expires_in");
  int64_t seconds = 0;
  absl::Status problem;
  if (token == body.end() || !token->is_string() || token->get_ref<std::string&>().empty() ||
      token->get_ref<std::string&>().size() > kMaxToken) {
    problem = Malformed(service, "no access_token");
  } else if (type == body.end() || !type->is_string() ||
             !absl::EqualsIgnoreCase(type->get_ref<const std::string&>(), "Bearer")) {
    problem = Malformed(service, "token_type is not Bearer");
  } else if (expires_in == body.end() || !ParseExpiresIn(*expires_in, &seconds)) {
    problem = Malformed(service, "no positive expires_in");
  }
  AccessToken result;
  if (token != body.end() && token->is_string()) {
    std::string& text = token->get_ref<std::string&>();
    if (problem.ok()) result.token = crypto::SecretBytes::CopyFrom(text);
    crypto::WipeString(&text);
  }
  if (!problem.ok()) return problem;
  result.expires_at = requested_at + absl::Seconds(seconds);
  return result;
}

}  // namespace

absl::StatusOr<AccessToken> TokenFromResponse(TokenService service,
                                              absl::StatusOr<HttpResponse> response,
                                              absl::Time requested_at) {
  if (!response.ok()) {
    return MakeError(ErrorReason::kKmsUnavailable,
                     absl::StrCat(ServiceName(service),
                                  " token request got no answer: ", response.status().message()));
  }
  if (response->status != 200) return ErrorFromStatus(service, *response);
  return ParseSuccess(service, response->body, requested_at);
}

}  // namespace keybroker::kms::azure
