#include "kms_adapters/kms_observer.h"

#include <optional>

#include "common/error_reason.h"

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

}  // namespace keybroker::kms
