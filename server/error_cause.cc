#include "server/error_cause.h"

#include <optional>

#include "common/error_reason.h"

namespace keybroker::server {
namespace {

// How far ahead of the server's view of a deadline the caller's own timer may
// fire. The server's deadline is the caller's timeout counted from when the
// request arrived, so it falls a little after the caller's; the caller
// cancels the call when its own timer fires, and that reset can reach us
// first (tens of milliseconds on a loaded machine, measured under ASan).
constexpr absl::Duration kDeadlineSkew = absl::Milliseconds(500);

}  // namespace

ErrorCause CauseOf(const absl::Status& status) {
  if (status.ok()) return ErrorCause::kNone;
  std::optional<ErrorReason> reason = ReasonOf(status);
  if (!reason.has_value()) {
    switch (status.code()) {
      // The caller gave up, or asked for something malformed.
      case absl::StatusCode::kCancelled:
      case absl::StatusCode::kDeadlineExceeded:
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kOutOfRange:
      case absl::StatusCode::kUnauthenticated:
        return ErrorCause::kClient;
      default:
        return ErrorCause::kService;
    }
  }
  switch (*reason) {
    case ErrorReason::kKeyNotAccessible:
    case ErrorReason::kKeyDisabled:
      return ErrorCause::kCustomer;
    case ErrorReason::kKeyNotFound:
      // An alias the broker does not know is the caller's mistake; a
      // configured key that is gone from the vault was deleted by its owner.
      return IsAliasNotConfigured(status) ? ErrorCause::kClient : ErrorCause::kCustomer;
    case ErrorReason::kEdekInvalid:
    case ErrorReason::kInvalidRequest:
    case ErrorReason::kCallerNotAuthorized:
    case ErrorReason::kKeyringReadOnly:
    case ErrorReason::kKeyVersionPinned:
    case ErrorReason::kRateLimited:
    case ErrorReason::kDeadlineExceeded:
      return ErrorCause::kClient;
    case ErrorReason::kKmsThrottled:
    case ErrorReason::kKmsUnavailable:
    case ErrorReason::kServerBusy:
    case ErrorReason::kInternal:
      return ErrorCause::kService;
    case ErrorReason::kKeyVersionNotYetLoaded:
      // A replica behind its peers on the keyring: during a rollout that
      // lasts seconds (the SDK retries on another replica) it is noise, but
      // a replica that stays behind is the operator's to fix. As a service
      // fault it pages only when it outlasts the alert's `for` window.
      return ErrorCause::kService;
  }
  return ErrorCause::kService;
}

bool AtCallerDeadline(std::chrono::system_clock::time_point deadline, absl::Time now) {
  return deadline != std::chrono::system_clock::time_point::max() &&
         absl::FromChrono(deadline) <= now + kDeadlineSkew;
}

absl::string_view ErrorCauseName(ErrorCause cause) {
  switch (cause) {
    case ErrorCause::kNone: return "none";
    case ErrorCause::kClient: return "client";
    case ErrorCause::kCustomer: return "customer";
    case ErrorCause::kService: return "service";
  }
  return "service";
}

}  // namespace keybroker::server
