// FakeSdkClock: a keybroker::sdk::Clock that moves only when the test says
// so, for DEK-age and decrypt-cache TTL tests without sleeping. Safe for
// concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_SDK_CLOCK_H_
#define KEYBROKER_TESTS_FAKES_FAKE_SDK_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keybroker/sdk/clock.h"

namespace keybroker::testing {

class FakeSdkClock : public sdk::Clock {
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
  // Any fixed instant will do: only differences matter to an sdk::Clock.
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1704067200);
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_SDK_CLOCK_H_
