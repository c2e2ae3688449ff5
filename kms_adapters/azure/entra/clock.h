// Clock: where the Entra ID credentials and the token cache read wall time
// (token expiry, JWT iat/nbf/exp), so that tests can advance it instead of
// sleeping. Implementations are safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLOCK_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLOCK_H_

#include "absl/time/time.h"

namespace keybroker::kms::azure {

class Clock {
 public:
  virtual ~Clock() = default;

  // Returns the current wall time.
  virtual absl::Time Now() const = 0;
};

// Returns the process-wide real clock (absl::Now()); it is never destroyed.
const Clock* SystemClock();

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLOCK_H_
