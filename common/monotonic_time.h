// MonotonicNow: steady time placed on the absl::Time line at an arbitrary
// epoch, for TTLs and ages. They are differences, and a wall clock stepped
// back by NTP or an operator must not extend them: a cached DEK living past
// its TTL would break the revocation bound promised to customers.
// Never compare it with wall time (absl::Now(), key expiry dates).
#ifndef KEYBROKER_COMMON_MONOTONIC_TIME_H_
#define KEYBROKER_COMMON_MONOTONIC_TIME_H_

#include <chrono>

#include "absl/time/time.h"

namespace keybroker {

inline absl::Time MonotonicNow() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_MONOTONIC_TIME_H_
