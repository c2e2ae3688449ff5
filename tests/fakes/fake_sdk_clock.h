// FakeSdkClock: a keybroker::sdk::Clock that moves only when the test says
// so, for DEK-age and decrypt-cache TTL tests without sleeping.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_SDK_CLOCK_H_
#define KEYBROKER_TESTS_FAKES_FAKE_SDK_CLOCK_H_

#include "keybroker/sdk/clock.h"
#include "tests/fakes/manual_clock.h"

namespace keybroker::testing {

using FakeSdkClock = ManualClock<sdk::Clock>;

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_SDK_CLOCK_H_
