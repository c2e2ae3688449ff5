// ConcurrencyLimitedHttpClient: an HttpClient decorator allowing at most N
// requests in flight per origin (scheme://host:port), so that one slow vault
// cannot take every request thread and starve the others.
//
// A caller over the limit waits for a slot until its deadline, or until its
// request's `cancelled` says it gave up. Origins are counted independently;
// an origin's counter exists only while it has requests in flight.
//
// Put it inside RetryingHttpClient (Retrying -> ConcurrencyLimited -> real
// transport), so that a slot is held per attempt, not across backoff sleeps.
//
// Thread-safety: safe for concurrent use if the inner client is.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_CONCURRENCY_LIMITED_HTTP_CLIENT_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_CONCURRENCY_LIMITED_HTTP_CLIENT_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

class ConcurrencyLimitedHttpClient : public HttpClient {
 public:
  // Wraps `inner`, allowing `max_in_flight_per_origin` (at least 1) requests
  // per origin at a time.
  // A caller finding the origin full waits up to `max_wait` (and never past
  // its deadline), then gets RESOURCE_EXHAUSTED.
  ConcurrencyLimitedHttpClient(std::unique_ptr<HttpClient> inner, int max_in_flight_per_origin,
                               absl::Duration max_wait = absl::InfiniteDuration());

  // Waits for a slot for the request's origin, then sends it through the
  // inner client and returns what that returns. DEADLINE_EXCEEDED when no
  // slot frees up before `deadline` (the message says the limit was
  // reached); CANCELLED when `request.cancelled` says so first;
  // INVALID_ARGUMENT for a malformed URL.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Time deadline) override;

 private:
  // Takes a slot for `origin`, waiting until `deadline` at most, or until
  // `cancelled` says so (CANCELLED).
  absl::Status Acquire(const std::string& origin, absl::Time deadline,
                       const CancelledFn& cancelled);
  // Gives back a slot taken by Acquire.
  void Release(const std::string& origin);
  bool HasRoomLocked(const std::string& origin) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Set at construction.
  const std::unique_ptr<HttpClient> inner_;
  const int limit_;
  const absl::Duration max_wait_;

  mutable absl::Mutex mu_;
  // Requests in flight per origin; no entry means none.
  absl::flat_hash_map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_CONCURRENCY_LIMITED_HTTP_CLIENT_H_
