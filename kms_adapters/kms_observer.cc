#include "kms_adapters/kms_observer.h"

#include <optional>

#include "absl/strings/cord.h"
#include "common/error_reason.h"
#include "kms_adapters/kms.h"

namespace keybroker::kms {

KmsObserver* NoKmsObserver() {
  static KmsObserver* const kNone = new KmsObserver();
  return kNone;
}

absl::string_view OutcomeOf(const absl::Status& status) {
  if (status.ok()) return "OK";
  std::optional<ErrorReason> reason = ReasonOf(status);
  return ErrorReasonName(reason.value_or(ErrorReason::kInternal));
}

namespace {
// Marks a WouldBlock status; no other status carries it.
constexpr absl::string_view kWouldBlockPayload = "keybroker.kms/would-block";
}  // namespace

absl::Status WouldBlock() {
  absl::Status status = absl::UnavailableError("needs a remote call (local_only)");
  status.SetPayload(kWouldBlockPayload, absl::Cord("1"));
  return status;
}

bool IsWouldBlock(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kWouldBlockPayload).has_value();
}

}  // namespace keybroker::kms

namespace keybroker::kms {

absl::StatusOr<std::string> Kms::KeyIdForUri(absl::string_view uri) const {
  return KeyNotFound("this kms takes no keys named by URI");
}

}  // namespace keybroker::kms
