#include "keybroker/sdk/clock.h"

#include "common/monotonic_time.h"

namespace keybroker::sdk {
namespace {

// DEK ages and cache TTLs are differences: steady time (common/monotonic_time.h).
class SteadyClock : public Clock {
 public:
  absl::Time Now() const override { return MonotonicNow(); }
};

}  // namespace

const Clock* MonotonicClock() {
  static const SteadyClock* clock = new SteadyClock();
  return clock;
}

}  // namespace keybroker::sdk
