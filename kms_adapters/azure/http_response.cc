#include <algorithm>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

bool AwaitUnlessCancelled(absl::Mutex* mu, const absl::Condition& condition, absl::Time deadline,
                          const CancelledFn& cancelled) {
  if (!cancelled) return mu->AwaitWithDeadline(condition, deadline);
  for (;;) {
    if (cancelled()) return false;
    absl::Time slice_end = std::min(deadline, absl::Now() + kCancelPollInterval);
    if (mu->AwaitWithDeadline(condition, slice_end)) return true;
    if (slice_end >= deadline) return false;
  }
}

}  // namespace keybroker::kms::azure
