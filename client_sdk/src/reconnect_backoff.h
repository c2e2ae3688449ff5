// ReconnectBackoff and WaitAfter: how long the SDK waits before asking the
// broker again. ReconnectBackoff: how long a long-lived stream waits before
// its next attempt after an error: capped exponential backoff with jitter, so that
// the clients of a broker that restarts do not all come back in step.
//
// The n-th wait in a row is drawn uniformly from [d/2, d], d being `initial`
// doubled n - 1 times and capped at `max`; Reset() starts over (after a
// stream that worked). Not thread-safe: one owner.
#ifndef KEYBROKER_CLIENT_SDK_SRC_RECONNECT_BACKOFF_H_
#define KEYBROKER_CLIENT_SDK_SRC_RECONNECT_BACKOFF_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace keybroker::sdk::internal {

class ReconnectBackoff {
 public:
  // `initial` and `max` are positive, `initial` <= `max`.
  ReconnectBackoff(absl::Duration initial, absl::Duration max)
      : initial_(initial), max_(max), ceiling_(initial) {}

  // Returns the next wait and doubles the ceiling of the one after.
  absl::Duration Next();

  // Back to `initial`.
  void Reset() { ceiling_ = initial_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  absl::Duration ceiling_;  // of the next wait
};

// How long to wait before asking the broker again after `status`: `own`
// (the caller's backoff or retry delay), or the broker's retry delay
// (RetryInfo: KMS_THROTTLED, SERVER_BUSY) if that is longer, up to 5
// minutes whatever the broker says (what is missed meanwhile is bounded by
// the SDK's TTLs anyway).
absl::Duration WaitAfter(const absl::Status& status, absl::Duration own);

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_RECONNECT_BACKOFF_H_
