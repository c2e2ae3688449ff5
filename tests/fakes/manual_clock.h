// ManualClock<ClockInterface>: a clock that moves only when the test says so,
// for any of the project's clock interfaces (kms::azure::Clock for token
// expiry, sdk::Clock for DEK ages and cache TTLs): tests advance it instead
// of sleeping. Safe for concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_MANUAL_CLOCK_H_
#define KEYBROKER_TESTS_FAKES_MANUAL_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace keybroker::testing {

template <typename ClockInterface>
class ManualClock : public ClockInterface {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  void Advance(absl::Duration by) {
    absl::MutexLock lock(&mu_);
    now_ += by;
  }

 private:
  mutable absl::Mutex mu_;
  // A fixed, realistic instant (2024-01-01T00:00:00Z).
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1704067200);
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_MANUAL_CLOCK_H_
