#include "keybroker/sdk/fhir/fhir_error.h"

#include <optional>

#include "common/error_reason.h"
#include "nlohmann/json.hpp"

namespace keybroker::sdk::fhir {
namespace {

FhirError Make(int http_status, const char* code, std::string diagnostics) {
  return FhirError{http_status, code, std::move(diagnostics)};
}

}  // namespace

FhirError FhirError::FromStatus(const absl::Status& status) {
  const std::optional<ErrorReason> reason = ReasonOf(status);
  if (reason == ErrorReason::kKeyNotAccessible) {
    return Make(403, "forbidden", kKeyNotAccessibleDiagnostics);
  }
  // A configured customer key that is gone (deleted in Key Vault) is lost
  // access too; an alias the broker does not know is our own fault (500).
  if (reason == ErrorReason::kKeyNotFound && !IsAliasNotConfigured(status)) {
    return Make(403, "forbidden", kKeyNotAccessibleDiagnostics);
  }
  // Also PERMISSION_DENIED, but the broker's policy refusing this service:
  // a distinct code, so that FHIR clients and logs do not take it for the
  // customer revoking their key.
  if (reason == ErrorReason::kCallerNotAuthorized) {
    return Make(403, "security", kCallerNotAuthorizedDiagnostics);
  }
  if (reason == ErrorReason::kKeyDisabled) {
    return Make(403, "forbidden", "Customer-managed key is disabled or expired.");
  }
  if (reason == ErrorReason::kInvalidRequest) {
    return Make(400, "invalid", std::string(status.message()));
  }
  if (reason == ErrorReason::kEdekInvalid) {
    return Make(500, "exception", "Stored resource failed its integrity check.");
  }
  if (reason == ErrorReason::kKmsThrottled ||
      status.code() == absl::StatusCode::kResourceExhausted) {
    return Make(429, "throttled", "Key service is busy; retry later.");
  }
  // Errors gRPC makes itself carry no reason: a broker that does not answer.
  // A broker replica behind on a keyring rollout heals by itself too.
  if (reason == ErrorReason::kKmsUnavailable ||
      reason == ErrorReason::kKeyVersionNotYetLoaded ||
      status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    return Make(503, "transient", "Key service is unavailable; retry later.");
  }
  // The caller's own NOT_FOUND (unknown account or resource) carries no reason;
  // KEY_NOT_FOUND does, and is a configuration fault of the server.
  if (!reason.has_value() && status.code() == absl::StatusCode::kNotFound) {
    return Make(404, "not-found", std::string(status.message()));
  }
  if (!reason.has_value() && status.code() == absl::StatusCode::kAlreadyExists) {
    return Make(409, "conflict", std::string(status.message()));
  }
  return Make(500, "exception", "Internal error.");
}

std::string FhirError::OperationOutcomeJson() const {
  nlohmann::ordered_json issue = {
      {"severity", "error"}, {"code", code}, {"diagnostics", diagnostics}};
  nlohmann::ordered_json outcome = {{"resourceType", "OperationOutcome"},
                                    {"issue", nlohmann::ordered_json::array({issue})}};
  // replace: a status message may quote invalid UTF-8 from a rejected resource.
  return outcome.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace keybroker::sdk::fhir
