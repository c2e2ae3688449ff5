// RetryingHttpClient: an HttpClient decorator that retries what is worth
// retrying, within the caller's deadline. The one retry policy for Key Vault,
// Managed HSM and Entra ID.
//
// Retried: HTTP 429 (waiting what Retry-After says, in seconds), any 5xx, and
// UNAVAILABLE from the inner client (connection, TLS or read failures).
// Never retried: other 4xx, and any other error (DEADLINE_EXCEEDED included).
// Between attempts it waits an exponential backoff with full jitter:
// uniform in [0, min(max_backoff, base_backoff * 2^(retry - 1))].
//
// A request whose `cancelled` says so is not sent again and wakes from its
// backoff within kCancelPollInterval: CANCELLED (CallerCancelled).
//
// It never waits past the deadline: when the next wait would end at or after
// it, or attempts run out, the last response or status is returned as it is.
// A final 429 comes back as a response (with its Retry-After), so the caller
// can report KMS_THROTTLED with a retry delay.
//
// Every request is sent again unchanged, so wrap only idempotent calls or
// calls whose repetition is harmless (a POST to Key Vault's rotate is not).
//
// Thread-safety: safe for concurrent use if the inner client is.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_RETRYING_HTTP_CLIENT_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_RETRYING_HTTP_CLIENT_H_

#include <memory>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

// Time as the retry loop sees it; tests substitute one that does not sleep.
// Implementations are safe for concurrent use.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Returns the current time, comparable with request deadlines.
  virtual absl::Time Now() = 0;
  // Blocks the calling thread for `duration`.
  virtual void SleepFor(absl::Duration duration) = 0;

  // Returns the real clock (absl::Now, absl::SleepFor); never destroyed.
  static Sleeper* Real();
};

struct RetryPolicy {
  int max_attempts = 4;  // including the first; values below 1 mean 1
  absl::Duration base_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  // A Retry-After longer than this is not waited for: the 429 or 5xx is
  // returned at once. Bounds the wait when the caller set no deadline.
  absl::Duration max_retry_after = absl::Seconds(30);
};

class RetryingHttpClient : public HttpClient {
 public:
  // Wraps `inner`. `sleeper` must outlive this object.
  RetryingHttpClient(std::unique_ptr<HttpClient> inner, RetryPolicy policy,
                     Sleeper* sleeper = Sleeper::Real());

  // Sends `request` through the inner client, retrying as described above.
  // Returns the first response that is not retried, or the last response or
  // status when attempts or time run out.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Time deadline) override;

 private:
  // Returns how long to wait before retry number `retry` (1 for the first)
  // after `result`: its Retry-After if it has one, else a jittered backoff;
  // InfiniteDuration (do not retry) when Retry-After exceeds max_retry_after.
  absl::Duration DelayBefore(int retry, const absl::StatusOr<HttpResponse>& result);
  absl::Duration JitteredBackoff(int retry);
  // Sleeps `delay`, waking every kCancelPollInterval to look at `cancelled`;
  // false when it cut the sleep short.
  bool SleepUnlessCancelled(absl::Duration delay, const CancelledFn& cancelled);

  // Set at construction.
  const std::unique_ptr<HttpClient> inner_;
  const RetryPolicy policy_;
  Sleeper* const sleeper_;

  absl::Mutex mu_;
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);  // jitter only: need not be a CSPRNG
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_RETRYING_HTTP_CLIENT_H_
