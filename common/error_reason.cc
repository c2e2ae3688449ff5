#include "common/error_reason.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace keybroker {
namespace {

constexpr absl::string_view kReasonPayloadUrl = "type.keybroker.dev/reason";
constexpr absl::string_view kRetryDelayPayloadUrl = "type.keybroker.dev/retry_delay_ms";
constexpr absl::string_view kAliasNotConfiguredUrl = "type.keybroker.dev/alias_not_configured";
constexpr absl::string_view kKmsRequestIdUrl = "type.keybroker.dev/kms_request_id";

struct ReasonInfo {
  ErrorReason reason;
  absl::string_view name;
  absl::StatusCode code;
};

constexpr ReasonInfo kReasons[] = {
    {ErrorReason::kKeyNotAccessible, "KEY_NOT_ACCESSIBLE", absl::StatusCode::kPermissionDenied},
    {ErrorReason::kKeyDisabled, "KEY_DISABLED", absl::StatusCode::kFailedPrecondition},
    {ErrorReason::kKeyNotFound, "KEY_NOT_FOUND", absl::StatusCode::kNotFound},
    {ErrorReason::kEdekInvalid, "EDEK_INVALID", absl::StatusCode::kInvalidArgument},
    {ErrorReason::kInvalidRequest, "INVALID_REQUEST", absl::StatusCode::kInvalidArgument},
    {ErrorReason::kCallerNotAuthorized, "CALLER_NOT_AUTHORIZED",
     absl::StatusCode::kPermissionDenied},
    {ErrorReason::kKmsThrottled, "KMS_THROTTLED", absl::StatusCode::kResourceExhausted},
    {ErrorReason::kKmsUnavailable, "KMS_UNAVAILABLE", absl::StatusCode::kUnavailable},
    {ErrorReason::kKeyringReadOnly, "KEYRING_READ_ONLY", absl::StatusCode::kFailedPrecondition},
    {ErrorReason::kRateLimited, "RATE_LIMITED", absl::StatusCode::kResourceExhausted},
    {ErrorReason::kServerBusy, "SERVER_BUSY", absl::StatusCode::kResourceExhausted},
    {ErrorReason::kDeadlineExceeded, "DEADLINE_EXCEEDED", absl::StatusCode::kDeadlineExceeded},
    {ErrorReason::kKeyVersionPinned, "KEY_VERSION_PINNED", absl::StatusCode::kFailedPrecondition},
    {ErrorReason::kKeyVersionNotYetLoaded, "KEY_VERSION_NOT_YET_LOADED",
     absl::StatusCode::kUnavailable},
    {ErrorReason::kInternal, "INTERNAL", absl::StatusCode::kInternal},
};

const ReasonInfo& InfoOf(ErrorReason reason) {
  for (const ReasonInfo& info : kReasons) {
    if (info.reason == reason) return info;
  }
  return kReasons[sizeof(kReasons) / sizeof(kReasons[0]) - 1];
}

}  // namespace

absl::string_view ErrorReasonName(ErrorReason reason) { return InfoOf(reason).name; }

std::optional<ErrorReason> ParseErrorReason(absl::string_view name) {
  for (const ReasonInfo& info : kReasons) {
    if (info.name == name) return info.reason;
  }
  return std::nullopt;
}

absl::StatusCode CodeForReason(ErrorReason reason) { return InfoOf(reason).code; }

absl::Status MakeError(ErrorReason reason, absl::string_view message) {
  const ReasonInfo& info = InfoOf(reason);
  absl::Status status(info.code, message);
  status.SetPayload(kReasonPayloadUrl, absl::Cord(info.name));
  return status;
}

std::optional<ErrorReason> ReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  return ParseErrorReason(std::string(*payload));
}

void SetRetryDelay(absl::Status& status, absl::Duration delay) {
  status.SetPayload(kRetryDelayPayloadUrl,
                    absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(delay))));
}

std::optional<absl::Duration> RetryDelayOf(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryDelayPayloadUrl);
  int64_t millis = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &millis)) {
    return std::nullopt;
  }
  return absl::Milliseconds(millis);
}

void MarkAliasNotConfigured(absl::Status& status) {
  status.SetPayload(kAliasNotConfiguredUrl, absl::Cord("1"));
}

bool IsAliasNotConfigured(const absl::Status& status) {
  return status.GetPayload(kAliasNotConfiguredUrl).has_value();
}

void SetKmsRequestId(absl::Status& status, absl::string_view request_id) {
  if (!status.ok() && !request_id.empty()) status.SetPayload(kKmsRequestIdUrl, absl::Cord(request_id));
}

std::string KmsRequestIdOf(const absl::Status& status) {
  auto payload = status.GetPayload(kKmsRequestIdUrl);
  return payload.has_value() ? std::string(*payload) : std::string();
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status annotated(status.code(), absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    annotated.SetPayload(url, payload);
  });
  return annotated;
}

}  // namespace keybroker
