// FakeClock: a kms::azure::Clock that moves only when the test says so, for
// token expiry and refresh tests without sleeping. Safe for concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_CLOCK_H_
#define KEYBROKER_TESTS_FAKES_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kms_adapters/azure/entra/clock.h"

namespace keybroker::testing {

class FakeClock : public kms::azure::Clock {
 public:
  // Starts at a fixed, realistic instant (2024-01-01T00:00:00Z).
  FakeClock() : now_(absl::FromUnixSeconds(1704067200)) {}

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
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_CLOCK_H_
