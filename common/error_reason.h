// The machine-readable reasons keybroker attaches to every error.
//
// Layers below the gRPC edge return absl::Status; the reason rides along as a
// Status payload so that upper layers can add context to the message without
// losing it. server/ turns it into google.rpc.ErrorInfo.reason at the edge,
// and the SDK turns it back. The reason strings are part of the wire contract.
#ifndef KEYBROKER_COMMON_ERROR_REASON_H_
#define KEYBROKER_COMMON_ERROR_REASON_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace keybroker {

enum class ErrorReason {
  kKeyNotAccessible,     // PERMISSION_DENIED: customer removed access to the key.
  kKeyDisabled,          // FAILED_PRECONDITION: disabled/expired/not-yet-valid key.
  kKeyNotFound,          // NOT_FOUND: unknown alias, key or version.
  kEdekInvalid,          // INVALID_ARGUMENT: malformed/tampered EDEK, wrong context.
  kInvalidRequest,       // INVALID_ARGUMENT: a request field is missing or out of range.
  kCallerNotAuthorized,  // PERMISSION_DENIED: caller may not use the key.
  kKmsThrottled,         // RESOURCE_EXHAUSTED: throttling outlasted retries.
  kKmsUnavailable,       // UNAVAILABLE: KMS unreachable / 5xx after retries.
  kKeyringReadOnly,      // FAILED_PRECONDITION: Rotate on a read-only keyring.
  kRateLimited,          // RESOURCE_EXHAUSTED: the caller's rule allows no more calls now.
  kServerBusy,           // RESOURCE_EXHAUSTED: too many calls wait for the KMS; retry later.
  kDeadlineExceeded,     // DEADLINE_EXCEEDED: the caller's deadline passed first.
  kKeyVersionPinned,     // FAILED_PRECONDITION: Rotate on a key pinned to one version.
  kKeyVersionNotYetLoaded,  // UNAVAILABLE: an EDEK names a local key version this
                            // replica has not loaded yet (a keyring rollout); retry.
  kInternal,             // INTERNAL: a fault of the broker itself.
};
// How many reasons there are (for tables indexed by reason).
inline constexpr int kErrorReasonCount = static_cast<int>(ErrorReason::kInternal) + 1;

// Returns the wire name of `reason`, e.g. "KEY_NOT_ACCESSIBLE".
absl::string_view ErrorReasonName(ErrorReason reason);

// Parses a wire name; nullopt for names this version does not know.
std::optional<ErrorReason> ParseErrorReason(absl::string_view name);

// Returns the gRPC/absl code that goes with `reason`.
absl::StatusCode CodeForReason(ErrorReason reason);

// Returns an error with the code of `reason`, `message`, and the reason
// attached as a payload.
absl::Status MakeError(ErrorReason reason, absl::string_view message);

// Returns the reason attached to `status`, or nullopt (also for OK).
std::optional<ErrorReason> ReasonOf(const absl::Status& status);

// Attaches how long a caller should wait before retrying (KMS_THROTTLED,
// RATE_LIMITED, SERVER_BUSY, KEY_VERSION_NOT_YET_LOADED).
void SetRetryDelay(absl::Status& status, absl::Duration delay);
std::optional<absl::Duration> RetryDelayOf(const absl::Status& status);

// Marks a KEY_NOT_FOUND as "this alias is not configured on the broker at
// all" (rather than "the configured customer key is gone"). Travels as
// google.rpc.ErrorInfo.metadata["alias_configured"] = "false". Callers that
// fall back when a key does not exist (Kafka pass-through) must act only on
// this, never on a deleted customer key.
void MarkAliasNotConfigured(absl::Status& status);
bool IsAliasNotConfigured(const absl::Status& status);

// Attaches the KMS's own id for the request that failed (Key Vault's
// x-ms-request-id), which operators quote to the customer or to Azure support.
// Travels in diagnostic logs, not to callers.
void SetKmsRequestId(absl::Status& status, absl::string_view request_id);
std::string KmsRequestIdOf(const absl::Status& status);  // "" when none

// Returns `status` with `context` prepended to its message ("context: message"),
// keeping its code and payloads.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

// Shorthands for the common reasons.
inline absl::Status EdekInvalid(absl::string_view message) {
  return MakeError(ErrorReason::kEdekInvalid, message);
}
inline absl::Status InvalidRequest(absl::string_view message) {
  return MakeError(ErrorReason::kInvalidRequest, message);
}
inline absl::Status KeyNotFound(absl::string_view message) {
  return MakeError(ErrorReason::kKeyNotFound, message);
}
inline absl::Status Internal(absl::string_view message) {
  return MakeError(ErrorReason::kInternal, message);
}
// The caller's deadline passed before the work (a KMS request, a wait for
// another call's fetch) finished: the caller's choice, not a KMS fault.
inline absl::Status CallerDeadlineExceeded(absl::string_view message) {
  return MakeError(ErrorReason::kDeadlineExceeded, message);
}

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_ERROR_REASON_H_
