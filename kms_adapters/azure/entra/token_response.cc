#include "kms_adapters/azure/entra/token_response.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/error_reason.h"
#include "common/log.h"
#include "crypto/wipe.h"
#include "kms_adapters/azure/error_text.h"
#include "nlohmann/json.hpp"

namespace keybroker::kms::azure {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxToken = 64 * 1024;
constexpr int64_t kMaxExpiresIn = 366 * 24 * 3600;

absl::string_view ServiceName(TokenService service) {
  return service == TokenService::kImds ? "imds" : "entra id";
}

// What an Entra or IMDS error body (§9.4, §9.5) says. All but `text` are
// identifier-shaped ("" otherwise) and may reach callers.
struct TokenError {
  std::string oauth_error;  // "invalid_client"
  int64_t aadsts = 0;       // first of error_codes, 0 if none
  std::string trace_id, correlation_id;
  std::string text;         // error_description, else the body: for the log only
};

std::string StringMember(const Json& body, const char* name) {
  auto it = body.find(name);
  return it != body.end() && it->is_string() ? it->get<std::string>() : "";
}

TokenError ParseTokenError(const std::string& body_text) {
  TokenError error;
  Json body = Json::parse(body_text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) {
    error.text = body_text;
    return error;
  }
  error.oauth_error = ServiceIdentifier(StringMember(body, "error"));
  auto codes = body.find("error_codes");
  if (codes != body.end() && codes->is_array() && !codes->empty() &&
      (*codes)[0].is_number_integer()) {
    error.aadsts = (*codes)[0].get<int64_t>();
  }
  error.trace_id = ServiceIdentifier(StringMember(body, "trace_id"));
  error.correlation_id = ServiceIdentifier(StringMember(body, "correlation_id"));
  error.text = StringMember(body, "error_description");
  return error;
}

// "HTTP 401 invalid_client AADSTS7000215 [trace id ..., correlation id ...]":
// the ids Microsoft support asks for, none of Entra's prose.
std::string DescribeError(int status, const TokenError& error) {
  std::string text = absl::StrCat("HTTP ", status);
  if (!error.oauth_error.empty()) absl::StrAppend(&text, " ", error.oauth_error);
  if (error.aadsts > 0) absl::StrAppend(&text, " AADSTS", error.aadsts);
  if (!error.trace_id.empty() || !error.correlation_id.empty()) {
    absl::StrAppend(&text, " [trace id ", error.trace_id, ", correlation id ",
                    error.correlation_id, "]");
  }
  return text;
}

// The description (which names the application, tenant or certificate
// involved) for the operator, under the ids the caller was given.
void LogTokenError(TokenService service, int status, const TokenError& error) {
  log::Info("entra_token_error", {{"service", std::string(ServiceName(service))},
                                  {"http_status", status},
                                  {"error", error.oauth_error},
                                  {"error_code", error.aadsts},
                                  {"trace_id", error.trace_id},
                                  {"correlation_id", error.correlation_id},
                                  {"detail", DiagnosticText(error.text)}});
}

absl::Status ErrorFromStatus(TokenService service, const HttpResponse& response) {
  TokenError error = ParseTokenError(response.body);
  int status = response.status;
  LogTokenError(service, status, error);
  std::string what = DescribeError(status, error);
  const std::string& oauth_error = error.oauth_error;
  absl::string_view name = ServiceName(service);
  if (status == 429) {
    absl::Status throttled = MakeError(ErrorReason::kKmsThrottled,
                                       absl::StrCat(name, " throttled the token request: ", what));
    int64_t seconds = 0;
    if (absl::SimpleAtoi(response.Header("Retry-After"), &seconds) && seconds >= 0) {
      SetRetryDelay(throttled, absl::Seconds(seconds));
    }
    return throttled;
  }
  // IMDS answers 404 while it is being updated and 410 for up to 70 s after
  // start (§9.5); Entra's temporarily_unavailable is its transient failure.
  bool imds_busy = service == TokenService::kImds && (status == 404 || status == 410);
  if (status >= 500 || status < 400 || imds_busy || oauth_error == "temporarily_unavailable") {
    return MakeError(ErrorReason::kKmsUnavailable,
                     absl::StrCat(name, " could not issue a token: ", what));
  }
  // The broker's own identity is refused: wrong or expired secret, a
  // certificate Entra does not know, unknown client or tenant, no federated
  // credential, bad scope. All are the operator's settings, not anything a
  // customer did to their key: a service fault, so that a broken broker
  // credential pages instead of failing every customer quietly.
  return MakeError(ErrorReason::kKmsUnavailable,
                   absl::StrCat(name, " refused the broker's own credential: ", what));
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
