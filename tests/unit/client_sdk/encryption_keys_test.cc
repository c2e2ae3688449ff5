#include "client_sdk/src/encryption_keys.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "crypto/edek.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_dek_source.h"
#include "tests/fakes/fake_sdk_clock.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk::internal {
namespace {

using ::keybroker::testing::FakeDekSource;
using ::keybroker::testing::FakeSdkClock;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The key name in an EDEK of FakeDekSource (the alias), or "" for none.
std::string KeyNameOf(absl::string_view edek) {
  absl::StatusOr<crypto::Edek> decoded = crypto::DecodeEdek(edek);
  return decoded.ok() ? decoded->key_name : "";
}

EncryptorOptions Options(uint64_t max_uses, double refresh_at) {
  EncryptorOptions options;
  options.max_encryptions_per_dek = max_uses;
  options.refresh_at = refresh_at;
  options.max_dek_age = absl::Minutes(10);
  return options;
}

class EncryptionKeysTest : public ::testing::Test {
 protected:
  void Start(const EncryptorOptions& options) {
    absl::StatusOr<DekBudget> budget = DekBudget::FromOptions(options);
    ASSERT_OK(budget);
    keys_ = std::make_unique<EncryptionKeys>(&source_, Context{{"app", "test"}}, *budget, &clock_);
  }

  // The EDEK of the DEK the next Acquire of `alias` hands out, or "" on error.
  std::string AcquireEdek(absl::string_view alias = "orders") {
    absl::StatusOr<std::shared_ptr<const EncryptionKey>> key = keys_->Acquire(alias);
    EXPECT_OK(key);
    return key.ok() ? (*key)->edek : "";
  }

  FakeDekSource source_;
  FakeSdkClock clock_;
  std::unique_ptr<EncryptionKeys> keys_;
};

TEST(DekBudgetTest, CapsEncryptionsAt2To32) {
  for (uint64_t asked :
       {(uint64_t{1} << 32) + 1, uint64_t{1} << 40, std::numeric_limits<uint64_t>::max()}) {
    absl::StatusOr<DekBudget> budget = DekBudget::FromOptions(Options(asked, 0.75));
    ASSERT_OK(budget);
    EXPECT_EQ(budget->max_uses, uint64_t{1} << 32);
    EXPECT_EQ(budget->refresh_uses, uint64_t{3} << 30);
  }
  absl::StatusOr<DekBudget> exact = DekBudget::FromOptions(Options(uint64_t{1} << 32, 0.75));
  ASSERT_OK(exact);
  EXPECT_EQ(exact->max_uses, uint64_t{1} << 32);
}

TEST(DekBudgetTest, RefreshPointsFollowRefreshAt) {
  absl::StatusOr<DekBudget> budget = DekBudget::FromOptions(Options(10, 0.75));
  ASSERT_OK(budget);
  EXPECT_EQ(budget->refresh_uses, 7u);
  EXPECT_EQ(budget->refresh_age, absl::Seconds(450));
  // At least one use before a refresh, at most all of them.
  budget = DekBudget::FromOptions(Options(1, 0.1));
  ASSERT_OK(budget);
  EXPECT_EQ(budget->refresh_uses, 1u);
  budget = DekBudget::FromOptions(Options(5, 1.0));
  ASSERT_OK(budget);
  EXPECT_EQ(budget->refresh_uses, 5u);
}

TEST(DekBudgetTest, RejectsUnusableOptions) {
  EXPECT_THAT(DekBudget::FromOptions(Options(0, 0.75)), HasReason(ErrorReason::kInvalidRequest));
  for (double refresh_at : {0.0, -0.5, 1.01, std::nan("")}) {
    EXPECT_THAT(DekBudget::FromOptions(Options(10, refresh_at)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refresh_at")));
  }
  EncryptorOptions no_age = Options(10, 0.5);
  no_age.max_dek_age = absl::ZeroDuration();
  EXPECT_THAT(DekBudget::FromOptions(no_age),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_dek_age")));
  EncryptorOptions negative_retry = Options(10, 0.5);
  negative_retry.background_retry_delay = absl::Seconds(-1);
  EXPECT_THAT(DekBudget::FromOptions(negative_retry), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(EncryptionKeysTest, UsesADekUpToItsCountThenANewOne) {
  Start(Options(4, 1.0));
  std::string first = AcquireEdek();
  for (int i = 1; i < 4; ++i) EXPECT_EQ(AcquireEdek(), first);
  std::string second = AcquireEdek();
  EXPECT_NE(second, first);
  EXPECT_EQ(AcquireEdek(), second);
  EXPECT_EQ(source_.generate_calls(), 2);
}

TEST_F(EncryptionKeysTest, AliasesHaveTheirOwnDeks) {
  Start(Options(100, 0.75));
  std::string orders = AcquireEdek("orders");
  std::string payments = AcquireEdek("payments");
  EXPECT_NE(orders, payments);
  EXPECT_EQ(KeyNameOf(orders), "orders");
  EXPECT_EQ(KeyNameOf(payments), "payments");
  EXPECT_EQ(AcquireEdek("orders"), orders);
}

TEST_F(EncryptionKeysTest, UsesADekUpToItsAgeThenANewOne) {
  EncryptorOptions options = Options(1000, 1.0);
  options.max_dek_age = absl::Minutes(10);
  Start(options);
  std::string first = AcquireEdek();
  clock_.Advance(absl::Minutes(10) - absl::Nanoseconds(1));
  EXPECT_EQ(AcquireEdek(), first);
  clock_.Advance(absl::Nanoseconds(1));
  std::string second = AcquireEdek();
  EXPECT_NE(second, first);
  EXPECT_EQ(source_.generate_calls(), 2);
}

TEST_F(EncryptionKeysTest, AgeRefreshFetchesTheNextDekAhead) {
  EncryptorOptions options = Options(1000, 0.5);
  options.max_dek_age = absl::Minutes(10);
  Start(options);
  std::string first = AcquireEdek();
  // The next DEK's own age counts from when its fetch finishes: hold the
  // fetch until the first DEK has expired, so that the next one is half its
  // age away from a refresh of its own whatever the threads' timing.
  source_.HoldGenerateFrom(2);
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(AcquireEdek(), first);  // still current, and starts the fetch
  ASSERT_TRUE(source_.AwaitHeld(1));
  clock_.Advance(absl::Minutes(5));
  source_.Release();
  EXPECT_NE(AcquireEdek(), first);  // the fetched DEK, once it is published
  EXPECT_EQ(source_.generate_calls(), 2);
}

TEST_F(EncryptionKeysTest, WarmAcquiresNeverWaitForTheNextDek) {
  Start(Options(10, 0.5));
  ASSERT_FALSE(AcquireEdek().empty());
  std::set<std::string> edeks;
  for (int round = 0; round < 3; ++round) {
    // Hold the next fetch: the current DEK's remaining uses must not need it.
    source_.HoldGenerateFrom(source_.generate_calls() + 1);
    std::string current;
    for (int use = (round == 0 ? 2 : 1); use <= 10; ++use) {
      std::string edek = AcquireEdek();
      if (current.empty()) current = edek;
      EXPECT_EQ(edek, current) << "round " << round << " use " << use;
    }
    EXPECT_TRUE(source_.AwaitHeld(1));  // the refresh started at use 5
    edeks.insert(current);
    source_.Release();
  }
  EXPECT_EQ(edeks.size(), 3u);
  EXPECT_EQ(source_.generate_calls(), 4);  // the first DEK and one refresh per round
}

TEST_F(EncryptionKeysTest, SpentDekWaitsForTheFetchInFlight) {
  Start(Options(10, 0.5));
  std::string first = AcquireEdek();
  source_.HoldGenerateFrom(2);
  for (int i = 2; i <= 10; ++i) EXPECT_EQ(AcquireEdek(), first);
  ASSERT_TRUE(source_.AwaitHeld(1));

  absl::Notification done;
  std::string eleventh;
  std::thread waiter([&] {
    eleventh = AcquireEdek();
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  source_.Release();
  waiter.join();
  EXPECT_NE(eleventh, first);
  EXPECT_EQ(source_.generate_calls(), 2);  // the waiter started no fetch of its own
}

TEST_F(EncryptionKeysTest, ConcurrentMissesShareOneFetch) {
  Start(Options(1000, 0.75));
  source_.HoldGenerateFrom(1);
  constexpr int kThreads = 16;
  absl::Barrier* start = new absl::Barrier(kThreads + 1);
  std::vector<std::string> edeks(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      if (start->Block()) delete start;
      edeks[i] = AcquireEdek();
    });
  }
  if (start->Block()) delete start;
  ASSERT_TRUE(source_.AwaitHeld(1));
  absl::SleepFor(absl::Milliseconds(100));  // let every thread reach the wait
  source_.Release();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(source_.generate_calls(), 1);
  EXPECT_THAT(edeks, Each(edeks[0]));
  EXPECT_FALSE(edeks[0].empty());
}

TEST_F(EncryptionKeysTest, ConcurrentMissesShareOneFailure) {
  Start(Options(1000, 0.75));
  source_.HoldGenerateFrom(1);
  source_.FailWith(MakeError(ErrorReason::kKeyNotAccessible, "key access removed"));
  constexpr int kThreads = 8;
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = keys_->Acquire("orders").status(); });
  }
  ASSERT_TRUE(source_.AwaitHeld(1));
  absl::SleepFor(absl::Milliseconds(100));
  source_.Release();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(source_.generate_calls(), 1);
  EXPECT_THAT(results, Each(HasReason(ErrorReason::kKeyNotAccessible)));
  EXPECT_THAT(results[0].message(), HasSubstr("orders"));
}

TEST_F(EncryptionKeysTest, BrokerDownAfterWarmUpFailsOnlyOnceTheBudgetIsUsed) {
  Start(Options(10, 0.5));
  std::string first = AcquireEdek();
  source_.FailWith(MakeError(ErrorReason::kKmsUnavailable, "broker unreachable"));
  for (int i = 2; i <= 10; ++i) EXPECT_EQ(AcquireEdek(), first);
  absl::StatusOr<std::shared_ptr<const EncryptionKey>> spent = keys_->Acquire("orders");
  EXPECT_THAT(spent, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(spent.status().message(), HasSubstr("broker unreachable"));
  // The fake clock stands still: one background attempt (then the retry
  // delay), and one by the caller that had to wait (unless it found the
  // background attempt still running and shared its failure).
  EXPECT_LE(source_.generate_calls(), 3);
  EXPECT_THAT(keys_->Acquire("orders"), HasReason(ErrorReason::kKmsUnavailable));

  source_.FailWith(absl::OkStatus());
  std::string recovered = AcquireEdek();
  EXPECT_NE(recovered, first);
}

TEST_F(EncryptionKeysTest, FailedBackgroundFetchIsRetriedAfterTheDelay) {
  EncryptorOptions options = Options(100, 0.1);
  options.background_retry_delay = absl::Seconds(5);
  Start(options);
  std::string first = AcquireEdek();
  source_.FailWith(absl::UnavailableError("down"));
  for (int i = 2; i <= 20; ++i) EXPECT_EQ(AcquireEdek(), first);
  ASSERT_TRUE(source_.AwaitGenerateCalls(2));
  source_.FailWith(absl::OkStatus());
  EXPECT_EQ(AcquireEdek(), first);
  EXPECT_EQ(source_.generate_calls(), 2);  // within the delay: no new attempt
  // The first use past the delay starts the retry. The failed attempt records
  // its time on its own thread, perhaps after an Advance: keep advancing.
  for (int i = 0; i < 50 && source_.generate_calls() < 3; ++i) {
    clock_.Advance(absl::Seconds(5));
    EXPECT_EQ(AcquireEdek(), first);
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(source_.generate_calls(), 3);
}

// The process's virtual memory, from /proc/self/status (VmSize), in KiB.
int64_t VirtualMemoryKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmSize:", 0) == 0) return std::stoll(line.substr(7));
  }
  return -1;
}

// A fetch runs on a thread of its own; a finished one is joined when the next
// fetch of any alias starts, so that an Encryptor of many aliases (a key per
// tenant or per topic) does not keep a finished thread and its stack (8 MiB
// of address space) per alias.
TEST_F(EncryptionKeysTest, FinishedFetchThreadsAreNotKeptPerAlias) {
  Start(Options(1000, 1.0));
  constexpr int kAliases = 200;
  AcquireEdek("alias-0");
  const int64_t before = VirtualMemoryKib();
  ASSERT_GT(before, 0);
  for (int i = 1; i <= kAliases; ++i) {
    ASSERT_EQ(KeyNameOf(AcquireEdek(absl::StrCat("alias-", i))), absl::StrCat("alias-", i));
  }
  const int64_t grown_mib = (VirtualMemoryKib() - before) / 1024;
  EXPECT_LT(grown_mib, 256) << "a stack kept per alias would be about " << kAliases * 8 << " MiB";
}

// A throttled broker's retry delay, longer than background_retry_delay,
// holds background fetches back that long.
TEST_F(EncryptionKeysTest, AFailedBackgroundFetchWaitsAsLongAsTheBrokerAsks) {
  EncryptorOptions options = Options(100, 0.1);
  options.background_retry_delay = absl::Seconds(5);
  Start(options);
  std::string first = AcquireEdek();
  absl::Status throttled = MakeError(ErrorReason::kKmsThrottled, "throttled");
  SetRetryDelay(throttled, absl::Seconds(60));
  source_.FailWith(throttled);
  for (int i = 2; i <= 20; ++i) EXPECT_EQ(AcquireEdek(), first);
  ASSERT_TRUE(source_.AwaitGenerateCalls(2));
  // The failed attempt records its time on its own thread, before or after
  // the Advance below: either way the broker's 60 s are not over at +30 s.
  source_.FailWith(absl::OkStatus());
  clock_.Advance(absl::Seconds(30));  // past the 5 s delay, within the broker's 60 s
  EXPECT_EQ(AcquireEdek(), first);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(source_.generate_calls(), 2);
  for (int i = 0; i < 50 && source_.generate_calls() < 3; ++i) {
    clock_.Advance(absl::Seconds(31));
    EXPECT_EQ(AcquireEdek(), first);
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(source_.generate_calls(), 3);
}

TEST_F(EncryptionKeysTest, DestructionWaitsForAFetchInFlight) {
  Start(Options(10, 0.1));
  source_.HoldGenerateFrom(2);
  AcquireEdek();  // the first use already starts the background fetch, held
  ASSERT_TRUE(source_.AwaitHeld(1));
  absl::Notification destroyed;
  std::thread destroyer([&] {
    keys_.reset();
    destroyed.Notify();
  });
  EXPECT_FALSE(destroyed.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  source_.Release();
  destroyer.join();
  EXPECT_TRUE(destroyed.HasBeenNotified());
}

TEST_F(EncryptionKeysTest, DroppingAnAliasMakesItsNextCallerFetch) {
  Start(Options(100, 0.75));
  std::string orders = AcquireEdek("orders");
  std::string payments = AcquireEdek("payments");
  EXPECT_THAT(
      keys_->DropIf([](absl::string_view alias, absl::string_view) { return alias == "orders"; }),
      ElementsAre("orders"));
  std::string refetched = AcquireEdek("orders");
  EXPECT_NE(refetched, orders);
  EXPECT_EQ(AcquireEdek("payments"), payments);
  EXPECT_EQ(source_.generate_calls(), 3);
}

// Another alias (a key URI, say) whose DEKs were made under the same key.
TEST_F(EncryptionKeysTest, DropIfSeesTheEdeksOfEachAlias) {
  Start(Options(100, 0.75));
  AcquireEdek("orders");
  AcquireEdek("payments");
  std::vector<std::string> edek_names;
  EXPECT_THAT(keys_->DropIf([&](absl::string_view, absl::string_view edek) {
    edek_names.push_back(KeyNameOf(edek));
    return KeyNameOf(edek) == "payments";
  }),
              ElementsAre("payments"));
  EXPECT_THAT(edek_names, ElementsAre("orders", "payments"));
  EXPECT_THAT(keys_->DropIf([](absl::string_view, absl::string_view) { return false; }), IsEmpty());
}

// The fetch may have got its DEK just before the key became inaccessible.
TEST_F(EncryptionKeysTest, AFetchInFlightWhenItsAliasIsDroppedIsNotUsed) {
  Start(Options(100, 0.75));
  source_.HoldGenerateFrom(1);
  std::string edek;
  std::thread waiter([&] { edek = AcquireEdek("orders"); });
  ASSERT_TRUE(source_.AwaitHeld(1));
  EXPECT_THAT(keys_->DropIf([](absl::string_view alias, absl::string_view edek) {
    return alias == "orders" && edek.empty();  // no DEK yet
  }),
              ElementsAre("orders"));
  source_.Release();
  waiter.join();
  EXPECT_EQ(source_.generate_calls(), 2);  // the waiter fetched again
  absl::StatusOr<crypto::Edek> decoded = crypto::DecodeEdek(edek);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->key_version, "2");
}

TEST_F(EncryptionKeysTest, NoDekIsHandedOutMoreThanItsBudgetUnderContention) {
  constexpr uint64_t kBudget = 25;
  Start(Options(kBudget, 0.5));
  constexpr int kThreads = 8, kPerThread = 500;
  std::vector<std::vector<std::string>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) seen[t].push_back(AcquireEdek());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::map<std::string, uint64_t> uses;
  for (const auto& list : seen) {
    for (const std::string& edek : list) ++uses[edek];
  }
  for (const auto& [edek, count] : uses) EXPECT_LE(count, kBudget);
  EXPECT_GE(uses.size(), kThreads * kPerThread / kBudget);
  EXPECT_EQ(static_cast<int>(uses.count("")), 0);
}

}  // namespace
}  // namespace keybroker::sdk::internal
