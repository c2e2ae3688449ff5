// Clock: where the Encryptor reads time (DEK age, decrypt-cache TTL), so that
// tests can advance it instead of sleeping. Only differences between two
// Now() values matter, and they must never go backwards: the default clock is
// monotonic, not wall time. Implementations are safe for concurrent use.
#ifndef KEYBROKER_SDK_CLOCK_H_
#define KEYBROKER_SDK_CLOCK_H_

#include "absl/time/time.h"

namespace keybroker::sdk {

class Clock {
 public:
  virtual ~Clock() = default;

  // Returns the current instant.
  virtual absl::Time Now() const = 0;
};

// Returns the process-wide monotonic clock (CLOCK_MONOTONIC_COARSE: not tied
// to the calendar, a few milliseconds of resolution); it is never destroyed.
const Clock* MonotonicClock();

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_CLOCK_H_
