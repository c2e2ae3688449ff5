// FakeClock: a kms::azure::Clock that moves only when the test says so, for
// token expiry and refresh tests without sleeping.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_CLOCK_H_
#define KEYBROKER_TESTS_FAKES_FAKE_CLOCK_H_

#include "kms_adapters/azure/entra/clock.h"
#include "tests/fakes/manual_clock.h"

namespace keybroker::testing {

using FakeClock = ManualClock<kms::azure::Clock>;

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_CLOCK_H_
