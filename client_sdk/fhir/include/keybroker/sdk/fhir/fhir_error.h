// FhirError: what a FHIR server answers when protecting or unprotecting a
// resource failed: an HTTP status and an OperationOutcome with one issue.
//
// The FHIR layer returns absl::Status like the rest of the SDK (the broker's
// reason rides along as a payload, keybroker::ReasonOf); FhirError::FromStatus
// is the one translation to what the FHIR client sees:
//
//   reason / code                          HTTP  issue.code  diagnostics
//   KEY_NOT_ACCESSIBLE                     403   forbidden   kKeyNotAccessibleDiagnostics
//   CALLER_NOT_AUTHORIZED (the broker's    403   security    kCallerNotAuthorizedDiagnostics
//     policy does not let this service
//     use the key: ours to fix, not the
//     customer's)
//   KEY_DISABLED                           403   forbidden   "Customer-managed key is disabled
//                                                             or expired."
//   INVALID_REQUEST (bad resource, args)   400   invalid     the status message (our own text)
//   NOT_FOUND, no reason (the caller's     404   not-found   the status message
//     own: unknown account or resource)
//   ALREADY_EXISTS, no reason (the         409   conflict    the status message
//     caller's own: version exists)
//   EDEK_INVALID (stored blob does not     500   exception   "Stored resource failed its
//     authenticate: tampered, or moved                        integrity check."
//     to another account/resource)
//   KMS_THROTTLED, RESOURCE_EXHAUSTED      429   throttled   "Key service is busy; retry later."
//   KMS_UNAVAILABLE, UNAVAILABLE,          503   transient   "Key service is unavailable; retry
//     DEADLINE_EXCEEDED, KEY_VERSION_NOT_                     later."
//     YET_LOADED (a broker replica behind
//     on a keyring rollout)
//   anything else (KEY_NOT_FOUND, ...)     500   exception   "Internal error."
//
// Only 400, 404 and 409 diagnostics carry the status message; server-side
// failures get a fixed text (log the Status yourself), so key aliases and
// broker details do not reach FHIR clients. A plain value type; safe to copy and share.
#ifndef KEYBROKER_SDK_FHIR_FHIR_ERROR_H_
#define KEYBROKER_SDK_FHIR_FHIR_ERROR_H_

#include <string>

#include "absl/status/status.h"

namespace keybroker::sdk::fhir {

// The diagnostics of the 403 answer for a key whose access was removed.
inline constexpr char kKeyNotAccessibleDiagnostics[] = "Customer-managed key is not accessible.";

// The diagnostics of the 403 answer when the key broker's authorization
// policy refuses this service the account's key. Kept apart from the one
// above: the customer did nothing, the service's configuration is at fault.
inline constexpr char kCallerNotAuthorizedDiagnostics[] =
    "This service is not authorized to use the account's key.";

struct FhirError {
  int http_status = 500;
  std::string code = "exception";  // a FHIR IssueType code: forbidden, invalid, ...
  std::string diagnostics;

  // Returns the error for a failed `status` per the table above (an OK status
  // gives 500 "exception": it is a caller bug).
  static FhirError FromStatus(const absl::Status& status);

  // Returns the OperationOutcome as compact JSON:
  // {"resourceType":"OperationOutcome","issue":[{"severity":"error",
  //  "code":CODE,"diagnostics":DIAGNOSTICS}]}
  std::string OperationOutcomeJson() const;
};

}  // namespace keybroker::sdk::fhir

#endif  // KEYBROKER_SDK_FHIR_FHIR_ERROR_H_
