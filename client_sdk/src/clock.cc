#include "keybroker/sdk/clock.h"

#include <time.h>

namespace keybroker::sdk {
namespace {

// DEK ages and cache TTLs are differences of steady time, and are seconds to
// minutes: the kernel's coarse monotonic clock (a few milliseconds of
// resolution, a quarter of the cost of the precise one) is read on every
// Encrypt and Decrypt. Never stepped by NTP or an operator.
class SteadyClock : public Clock {
 public:
  absl::Time Now() const override {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return absl::UnixEpoch() + absl::DurationFromTimespec(now);
  }
};

}  // namespace

const Clock* MonotonicClock() {
  static const SteadyClock* clock = new SteadyClock();
  return clock;
}

}  // namespace keybroker::sdk
