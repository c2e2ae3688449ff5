#include "kms_adapters/azure/concurrency_limited_http_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kms_adapters/azure/url.h"

namespace keybroker::kms::azure {

ConcurrencyLimitedHttpClient::ConcurrencyLimitedHttpClient(std::unique_ptr<HttpClient> inner,
                                                           int max_in_flight_per_origin,
                                                           absl::Duration max_wait)
    : inner_(std::move(inner)),
      limit_(std::max(max_in_flight_per_origin, 1)),
      max_wait_(max_wait) {}

absl::StatusOr<HttpResponse> ConcurrencyLimitedHttpClient::Send(const HttpRequest& request,
                                                                absl::Time deadline) {
  ASSIGN_OR_RETURN(std::string origin, OriginOf(request.url));
  RETURN_IF_ERROR(Acquire(origin, deadline, request.cancelled));
  absl::StatusOr<HttpResponse> result = inner_->Send(request, deadline);
  Release(origin);
  return result;
}

absl::Status ConcurrencyLimitedHttpClient::Acquire(const std::string& origin, absl::Time deadline,
                                                   const CancelledFn& cancelled) {
  absl::MutexLock lock(&mu_);
  auto has_room = [this, &origin]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return HasRoomLocked(origin); };
  // Await re-evaluates the condition whenever mu_ is released, so each
  // Release lets one more waiter for that origin in.
  // A caller waits at most max_wait_: a thread parked here is a thread other
  // vaults cannot use, so a saturated vault sheds load rather than hoard them.
  absl::Time give_up = std::min(deadline, absl::Now() + max_wait_);
  if (!AwaitUnlessCancelled(&mu_, absl::Condition(&has_room), give_up, cancelled)) {
    if (IsCancelled(cancelled)) return CallerCancelled();
    std::string message =
        absl::StrCat("concurrency limit of ", limit_, " in-flight requests to ", origin,
                     " reached");
    if (give_up < deadline) return absl::ResourceExhaustedError(message);
    return absl::DeadlineExceededError(
        absl::StrCat("deadline exceeded waiting for a request slot: ", message));
  }
  ++in_flight_[origin];
  return absl::OkStatus();
}

void ConcurrencyLimitedHttpClient::Release(const std::string& origin) {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(origin);
  if (it != in_flight_.end() && --it->second == 0) in_flight_.erase(it);
}

bool ConcurrencyLimitedHttpClient::HasRoomLocked(const std::string& origin) const {
  auto it = in_flight_.find(origin);
  return it == in_flight_.end() || it->second < limit_;
}

}  // namespace keybroker::kms::azure
