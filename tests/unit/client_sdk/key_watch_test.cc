// Client::WatchKeys against a scripted broker on a loopback port (a real
// gRPC server and channel): the initial state and the changes arrive, the
// watch reconnects after a broken stream and a broker restart and gets the
// state again, its handle stops it promptly and for good, and a broker
// without WatchKeys stops it after one call.
#include "keybroker/sdk/key_watch.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/error_reason.h"
#include "keybroker/sdk/client.h"
#include "server/grpc_status.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/client_sdk/scripted_broker_test.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::Eventually;
using ::keybroker::testing::kPatience;
using ::keybroker::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

// The events a watch delivered, in order.
class EventLog {
 public:
  KeyEventCallback Callback() {
    return [this](const KeyEvent& event) {
      absl::MutexLock lock(&mu_);
      events_.push_back(event);
    };
  }

  // Waits until `n` events arrived; false after `timeout`.
  bool AwaitCount(size_t n, absl::Duration timeout = kPatience) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

  std::vector<KeyEvent> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<KeyEvent> events_ ABSL_GUARDED_BY(mu_);
};

auto IsEvent(const std::string& key, bool accessible, bool initial) {
  return ::testing::AllOf(Field(&KeyEvent::key, key), Field(&KeyEvent::accessible, accessible),
                          Field(&KeyEvent::initial, initial));
}

using KeyWatchTest = ::keybroker::testing::ScriptedBrokerTest;

TEST_F(KeyWatchTest, TheStateOfEveryKeyThenEachChangeArrive) {
  EventLog log;
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({}, log.Callback());
  ASSERT_NE(watch, nullptr);
  ASSERT_TRUE(log.AwaitCount(2));
  EXPECT_THAT(log.events(),
              ElementsAre(IsEvent("billing", true, true), IsEvent("orders", true, true)));
  EXPECT_EQ(log.events()[0].edek_key_name, "kv1.vault.azure.net/bill");
  EXPECT_OK(watch->status());
  EXPECT_FALSE(watch->stopped());

  broker_.SetAccessible("orders", false);
  broker_.SetAccessible("orders", true);
  ASSERT_TRUE(log.AwaitCount(4));
  std::vector<KeyEvent> events = log.events();
  EXPECT_THAT(events[2], IsEvent("orders", false, false));
  EXPECT_EQ(events[2].reason, "KEY_NOT_ACCESSIBLE");
  EXPECT_EQ(events[2].edek_key_name, "orders-key");
  EXPECT_THAT(events[3], IsEvent("orders", true, false));
  EXPECT_EQ(events[3].reason, "");
}

TEST_F(KeyWatchTest, OnlyTheKeysAskedFor) {
  EventLog log;
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({"orders"}, log.Callback());
  ASSERT_TRUE(log.AwaitCount(1));
  broker_.SetAccessible("billing", false);
  broker_.SetAccessible("orders", false);
  ASSERT_TRUE(log.AwaitCount(2));
  EXPECT_THAT(log.events(),
              ElementsAre(IsEvent("orders", true, true), IsEvent("orders", false, false)));
}

TEST_F(KeyWatchTest, ABrokenStreamIsReopenedAndTheStateSentAgain) {
  EventLog log;
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({"orders"}, log.Callback());
  ASSERT_TRUE(log.AwaitCount(1));
  broker_.BreakStreams();
  ASSERT_TRUE(log.AwaitCount(2));
  EXPECT_THAT(log.events(),
              ElementsAre(IsEvent("orders", true, true), IsEvent("orders", true, true)));
  EXPECT_EQ(broker_.watch_calls(), 2);
  // The new stream carries changes.
  broker_.SetAccessible("orders", false);
  ASSERT_TRUE(log.AwaitCount(3));
  EXPECT_THAT(log.events()[2], IsEvent("orders", false, false));
}

// A revocation while the broker is down reaches the watch as the state the
// restarted broker sends first.
TEST_F(KeyWatchTest, AfterABrokerRestartTheStateMissedArrives) {
  EventLog log;
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({"orders"}, log.Callback());
  ASSERT_TRUE(log.AwaitCount(1));
  server_.Stop();
  EXPECT_TRUE(Eventually([&] { return !watch->status().ok(); }));
  EXPECT_FALSE(watch->stopped());
  broker_.SetAccessible("orders", false);   // told to nobody
  absl::SleepFor(absl::Milliseconds(300));  // a few failed attempts
  ASSERT_TRUE(server_.Start());
  ASSERT_TRUE(log.AwaitCount(2));
  EXPECT_THAT(log.events()[1], IsEvent("orders", false, true));
  EXPECT_TRUE(Eventually([&] { return watch->status().ok(); }));
}

TEST_F(KeyWatchTest, DestroyingTheWatchStopsItPromptlyAndForGood) {
  std::atomic<int> calls{0};
  std::unique_ptr<KeyWatch> watch =
      client_->WatchKeys({"orders"}, [&](const KeyEvent&) { calls.fetch_add(1); });
  ASSERT_TRUE(Eventually([&] { return calls.load() == 1; }));
  ASSERT_TRUE(broker_.AwaitOpenStreams(1));

  const absl::Time start = absl::Now();
  watch.reset();  // the watch is blocked reading the open stream
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_TRUE(broker_.AwaitOpenStreams(0));  // the stream was cancelled
  broker_.SetAccessible("orders", false);
  broker_.BreakStreams();
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(broker_.watch_calls(), 1);
}

TEST_F(KeyWatchTest, DestroyingTheWatchDuringItsBackoffIsPrompt) {
  server_.Stop();
  EventLog log;
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({"orders"}, log.Callback());
  EXPECT_TRUE(Eventually([&] { return !watch->status().ok(); }));
  absl::SleepFor(absl::Seconds(1));  // the waits have grown to seconds
  const absl::Time start = absl::Now();
  watch.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_THAT(log.events(), IsEmpty());
}

// The destructor waits for a callback that is running: none runs after it.
TEST_F(KeyWatchTest, DestroyingTheWatchWaitsForTheCallbackRunning) {
  absl::Notification entered, release;
  std::atomic<bool> returned{false};
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({"orders"}, [&](const KeyEvent&) {
    if (entered.HasBeenNotified()) return;
    entered.Notify();
    release.WaitForNotification();
    returned = true;
  });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(kPatience));
  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    watch.reset();
    destroyed = true;
  });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(destroyed.load());
  release.Notify();
  destroyer.join();
  EXPECT_TRUE(returned.load());
}

TEST_F(KeyWatchTest, TheWatchMayOutliveItsClient) {
  EventLog log;
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({"orders"}, log.Callback());
  ASSERT_TRUE(log.AwaitCount(1));
  client_.reset();
  broker_.SetAccessible("orders", false);
  ASSERT_TRUE(log.AwaitCount(2));
  EXPECT_THAT(log.events()[1], IsEvent("orders", false, false));
}

// A broker at its max_watch_streams answers SERVER_BUSY with a retry delay:
// the watch waits that long, not its own (shorter) backoff, then watches.
TEST_F(KeyWatchTest, ABusyBrokersRetryDelayIsHonoured) {
  absl::Status busy = MakeError(ErrorReason::kServerBusy, "scripted: too many watch streams");
  SetRetryDelay(busy, absl::Seconds(1));
  broker_.SetWatchRefusal(server::ToGrpcStatus(busy));
  EventLog log;
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({}, log.Callback());
  ASSERT_TRUE(Eventually([&] { return broker_.watch_calls() == 1; }));
  absl::SleepFor(absl::Milliseconds(600));  // six times the first backoff
  EXPECT_EQ(broker_.watch_calls(), 1);
  broker_.SetWatchRefusal(std::nullopt);
  EXPECT_TRUE(log.AwaitCount(2));  // both keys' state, once the delay is over
  EXPECT_EQ(broker_.watch_calls(), 2);
}

TEST_F(KeyWatchTest, ABrokerWithoutWatchKeysStopsTheWatchAfterOneCall) {
  broker_.SetWatchUnimplemented();
  EventLog log;
  std::unique_ptr<KeyWatch> watch = client_->WatchKeys({}, log.Callback());
  ASSERT_TRUE(Eventually([&] { return watch->stopped(); }));
  EXPECT_THAT(watch->status(), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(std::string(watch->status().message()), ::testing::HasSubstr("older"));
  absl::SleepFor(absl::Milliseconds(500));  // five times the first backoff
  EXPECT_EQ(broker_.watch_calls(), 1);
  EXPECT_THAT(log.events(), IsEmpty());
  // Unary calls still work.
  EXPECT_OK(client_->GenerateDek("orders", {}));
}

}  // namespace
}  // namespace keybroker::sdk
