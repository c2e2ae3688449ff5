#include "kms_adapters/azure/retrying_http_client.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"

namespace keybroker::kms::azure {
namespace {

class RealSleeper : public Sleeper {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration duration) override { absl::SleepFor(duration); }
};

// A request that changes state (HttpRequest::retry_safe false) is retried
// only on 429, which Key Vault answers without acting (keyvault-protocol.md
// §7.3): after a 5xx or a lost connection it may have acted already.
bool ShouldRetry(const HttpRequest& request, const absl::StatusOr<HttpResponse>& result) {
  if (!result.ok()) return request.retry_safe && absl::IsUnavailable(result.status());
  if (result->status == 429) return true;
  return request.retry_safe && result->status >= 500 && result->status <= 599;
}

// Retry-After as delay-seconds (RFC 9110 section 10.2.3), the form Key Vault
// and Entra ID send. The HTTP-date form is ignored: the backoff applies.
bool ParseRetryAfter(const HttpResponse& response, absl::Duration* delay) {
  std::string value = response.Header("Retry-After");
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &seconds) || seconds < 0) return false;
  *delay = absl::Seconds(seconds);
  return true;
}

}  // namespace

Sleeper* Sleeper::Real() {
  static Sleeper* const real = new RealSleeper();
  return real;
}

RetryingHttpClient::RetryingHttpClient(std::unique_ptr<HttpClient> inner, RetryPolicy policy,
                                       Sleeper* sleeper)
    : inner_(std::move(inner)),
      policy_(policy),
      sleeper_(sleeper),
      random_(std::random_device()()) {}

absl::StatusOr<HttpResponse> RetryingHttpClient::Send(const HttpRequest& request,
                                                      absl::Time deadline) {
  const int max_attempts = std::max(policy_.max_attempts, 1);
  for (int attempt = 1;; ++attempt) {
    if (IsCancelled(request.cancelled)) return CallerCancelled();
    absl::StatusOr<HttpResponse> result = inner_->Send(request, deadline);
    if (attempt >= max_attempts || !ShouldRetry(request, result)) return result;
    absl::Duration delay = DelayBefore(attempt, result);
    // Waiting until the deadline only to fail would waste the caller's time:
    // give back what we have now.
    if (delay == absl::InfiniteDuration() || sleeper_->Now() + delay >= deadline) return result;
    if (!SleepUnlessCancelled(delay, request.cancelled)) return CallerCancelled();
  }
}

bool RetryingHttpClient::SleepUnlessCancelled(absl::Duration delay, const CancelledFn& cancelled) {
  if (!cancelled) {
    sleeper_->SleepFor(delay);
    return true;
  }
  // Slices rather than a thread to wake us: the predicate is cheap.
  for (absl::Time end = sleeper_->Now() + delay;;) {
    if (cancelled()) return false;
    absl::Duration left = end - sleeper_->Now();
    if (left <= absl::ZeroDuration()) return true;
    sleeper_->SleepFor(std::min(left, kCancelPollInterval));
  }
}

absl::Duration RetryingHttpClient::DelayBefore(int retry,
                                               const absl::StatusOr<HttpResponse>& result) {
  absl::Duration retry_after;
  if (result.ok() && ParseRetryAfter(*result, &retry_after)) {
    return retry_after <= policy_.max_retry_after ? retry_after : absl::InfiniteDuration();
  }
  return JitteredBackoff(retry);
}

absl::Duration RetryingHttpClient::JitteredBackoff(int retry) {
  absl::Duration ceiling = policy_.base_backoff;
  for (int i = 1; i < retry && ceiling < policy_.max_backoff; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, policy_.max_backoff);
  double fraction;
  {
    absl::MutexLock lock(&mu_);
    fraction = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  }
  return ceiling * fraction;
}

}  // namespace keybroker::kms::azure
