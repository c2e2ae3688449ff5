#include "kms_adapters/azure/entra/clock.h"

#include "absl/time/clock.h"

namespace keybroker::kms::azure {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

const Clock* SystemClock() {
  static const RealClock* const clock = new RealClock();
  return clock;
}

}  // namespace keybroker::kms::azure
