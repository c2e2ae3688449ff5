#include "kms_adapters/azure/key_vault_errors.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/log.h"
#include "common/utf8.h"
#include "kms_adapters/azure/error_text.h"
#include "nlohmann/json.hpp"

namespace keybroker::kms::azure {
namespace {

constexpr absl::Duration kDefaultThrottleDelay = absl::Seconds(1);

struct ServiceError {
  std::string code;        // error.code, e.g. "Forbidden" ("" unless identifier-shaped)
  std::string inner_code;  // error.innererror.code, e.g. "ForbiddenByRbac"
  std::string text;        // error.message, else the whole body: for the log only
};

std::string StringMember(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// Reads {"error":{"code","message","innererror":{"code"}}}; Managed HSM may
// send an empty body (§2.1), which leaves all empty. A proxy's HTML page is
// kept as the text.
ServiceError ParseServiceError(const std::string& body) {
  ServiceError error;
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("error") || !json["error"].is_object()) {
    error.text = body;
    return error;
  }
  const nlohmann::json& e = json["error"];
  error.code = ServiceIdentifier(StringMember(e, "code"));
  if (e.contains("innererror") && e["innererror"].is_object()) {
    error.inner_code = ServiceIdentifier(StringMember(e["innererror"], "code"));
  }
  error.text = StringMember(e, "message");
  return error;
}

// The full story for the operator, under the request id the caller was given.
void LogServiceError(const HttpResponse& response, const ServiceError& error,
                     absl::string_view operation, absl::string_view what,
                     const std::string& request_id) {
  log::Info("key_vault_error", {{"operation", std::string(operation)},
                                {"key", ToValidUtf8(what)},
                                {"http_status", response.status},
                                {"code", error.code},
                                {"inner_code", error.inner_code},
                                {"kms_request_id", request_id},
                                {"detail", DiagnosticText(error.text)}});
}

ErrorReason ReasonFor(int status, const ServiceError& error, bool edek_operation) {
  // Only after a fresh token (KeyVaultClient): the vault refuses a token that
  // Entra issued for the broker, i.e. the vault's tenant does not accept the
  // identity the customer granted (DESIGN.md: "401/403 after a fresh token").
  // A credential Entra refuses never gets this far (token_response.h).
  if (status == 401) return ErrorReason::kKeyNotAccessible;
  if (status == 403) {
    // A disabled key or an operation outside key_ops is the key's state, not
    // a lost permission (DESIGN.md error table).
    if (error.inner_code == "KeyDisabled" || error.inner_code == "KeyOperationForbidden") {
      return ErrorReason::kKeyDisabled;
    }
    // Any other 403 is the customer's vault refusing the broker (§7.2): a
    // role assignment removed (ForbiddenByRbac), an access policy without
    // the operation (ForbiddenByPolicy), the vault's firewall or network ACL
    // (ForbiddenByFirewall), Managed HSM's AccessDenied, which rarely says
    // more. All are lost access, set by the customer on their own vault.
    // Expired and not-yet-valid keys are caught from the key's attributes
    // before any wrap.
    return ErrorReason::kKeyNotAccessible;
  }
  if (status == 404) return ErrorReason::kKeyNotFound;
  if (status == 400 && edek_operation) return ErrorReason::kEdekInvalid;
  if (status == 429) return ErrorReason::kKmsThrottled;
  if (status >= 500) return ErrorReason::kKmsUnavailable;
  // Any other 4xx is a request we should not have sent.
  return ErrorReason::kInternal;
}

// What a transport failure (no response at all) means to the broker.
ErrorReason TransportReason(const absl::Status& status) {
  // A request the transport refused to send is our own fault, not the vault's.
  if (absl::IsInvalidArgument(status)) return ErrorReason::kInternal;
  // A vault at its concurrency limit is throttling by another name.
  if (absl::IsResourceExhausted(status)) return ErrorReason::kKmsThrottled;
  // The caller's own deadline ran out first (HttpClient says DEADLINE_EXCEEDED
  // only then; the transport's own timeout is UNAVAILABLE): the caller chose
  // how long to wait, so this is not the vault's outage.
  if (absl::IsDeadlineExceeded(status)) return ErrorReason::kDeadlineExceeded;
  // Connection, TLS (the broker's trust settings included) and read failures,
  // and no answer within request_timeout_seconds.
  return ErrorReason::kKmsUnavailable;
}

}  // namespace

absl::Status KeyVaultError(const HttpResponse& response, absl::string_view operation,
                           absl::string_view what, bool edek_operation) {
  ServiceError error = ParseServiceError(response.body);
  ErrorReason reason = ReasonFor(response.status, error, edek_operation);
  std::string request_id = ServiceIdentifier(response.Header("x-ms-request-id"), 128);
  LogServiceError(response, error, operation, what, request_id);
  std::string message = absl::StrCat(
      operation, " on ", what, " failed: HTTP ", response.status,
      error.code.empty() ? "" : absl::StrCat(" ", error.code),
      error.inner_code.empty() ? "" : absl::StrCat("/", error.inner_code));
  if (!request_id.empty()) absl::StrAppend(&message, " (x-ms-request-id ", request_id, ")");
  absl::Status status = MakeError(reason, ToValidUtf8(message));
  SetKmsRequestId(status, request_id);
  if (reason == ErrorReason::kKmsThrottled) {
    int64_t seconds = 0;
    SetRetryDelay(status, absl::SimpleAtoi(response.Header("Retry-After"), &seconds) && seconds > 0
                              ? absl::Seconds(seconds)
                              : kDefaultThrottleDelay);
  }
  return status;
}

absl::Status TransportError(const absl::Status& status, absl::string_view operation,
                            absl::string_view what) {
  ErrorReason reason = TransportReason(status);
  absl::Status error =
      MakeError(reason, absl::StrCat(operation, " on ", what, " failed: ", status.message()));
  if (reason == ErrorReason::kKmsThrottled) SetRetryDelay(error, kDefaultThrottleDelay);
  return error;
}

}  // namespace keybroker::kms::azure
