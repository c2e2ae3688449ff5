// ScriptedBrokerTest: the fixture of the WatchKeys tests of the Client and
// the Encryptor: a ScriptedKeyBroker serving "orders" (a local key) and
// "billing" (an Azure key) on a loopback port, and a Client connected to it.
// Eventually() polls for what arrives through the stream.
#ifndef KEYBROKER_TESTS_UNIT_CLIENT_SDK_SCRIPTED_BROKER_TEST_H_
#define KEYBROKER_TESTS_UNIT_CLIENT_SDK_SCRIPTED_BROKER_TEST_H_

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/client.h"
#include "tests/fakes/scripted_key_broker.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::testing {

// How long anything that travels through the stream may take.
inline constexpr absl::Duration kPatience = absl::Seconds(20);

// Polls `done` until it is true or `timeout` passes; returns its last value.
template <typename Predicate>
bool Eventually(Predicate done, absl::Duration timeout = kPatience) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class ScriptedBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    sdk::ClientOptions options;
    options.target = server_.address();
    absl::StatusOr<std::unique_ptr<sdk::Client>> client = sdk::Client::Create(options);
    ASSERT_OK(client);
    client_ = std::move(*client);
  }

  ScriptedKeyBroker broker_{{{"orders", "orders-key"}, {"billing", "kv1.vault.azure.net/bill"}}};
  ScriptedBrokerServer server_{&broker_};
  std::unique_ptr<sdk::Client> client_;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_UNIT_CLIENT_SDK_SCRIPTED_BROKER_TEST_H_
