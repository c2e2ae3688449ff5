#include "keybroker/sdk/clock.h"

#include <chrono>

namespace keybroker::sdk {
namespace {

// Steady time placed on the absl::Time line at its arbitrary epoch: DEK ages
// and cache TTLs are differences, and a wall clock stepped back by NTP or an
// operator must not extend them.
class SteadyClock : public Clock {
 public:
  absl::Time Now() const override {
    return absl::UnixEpoch() +
           absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }
};

}  // namespace

const Clock* MonotonicClock() {
  static const SteadyClock* clock = new SteadyClock();
  return clock;
}

}  // namespace keybroker::sdk
