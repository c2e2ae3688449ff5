// EncryptionLeases: per-thread blocks of DEK uses. What must hold: a DEK is
// never used beyond its budget or age, whatever the threads; blocks are
// reserved as documented; the next DEK is fetched ahead by age; a replaced
// DEK is let go (and so wiped) once no thread is using it; after a Drop no
// thread uses the alias's DEK again.
#include "client_sdk/src/encryption_leases.h"

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client_sdk/src/encryption_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_dek_source.h"
#include "tests/fakes/fake_sdk_clock.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk::internal {
namespace {

using ::keybroker::testing::FakeDekSource;
using ::keybroker::testing::FakeSdkClock;

DekBudget Budget(uint64_t max_uses, double refresh_at = 0.75,
                 absl::Duration max_age = absl::Minutes(10)) {
  EncryptorOptions options;
  options.max_encryptions_per_dek = max_uses;
  options.refresh_at = refresh_at;
  options.max_dek_age = max_age;
  absl::StatusOr<DekBudget> budget = DekBudget::FromOptions(options);
  EXPECT_OK(budget);
  return *budget;
}

class EncryptionLeasesTest : public ::testing::Test {
 protected:
  void Start(const DekBudget& budget) {
    keys_ = std::make_unique<EncryptionKeys>(&source_, Context{{"app", "test"}}, budget, &clock_);
    leases_ = std::make_unique<EncryptionLeases>(keys_.get(), budget, &clock_);
  }

  // The EDEK used by one WithKey of `alias`, and the DEK's use count then.
  struct Used {
    std::string edek;
    uint64_t uses = 0;
  };
  Used Use(absl::string_view alias = "orders") {
    Used used;
    EXPECT_OK(leases_->WithKey(alias, [&](const EncryptionKey& key) {
      used.edek = key.edek;
      used.uses = key.uses.load();
      return absl::OkStatus();
    }));
    return used;
  }

  FakeDekSource source_;
  FakeSdkClock clock_;
  std::unique_ptr<EncryptionKeys> keys_;
  std::unique_ptr<EncryptionLeases> leases_;
};

TEST(EncryptionLeasesBlockTest, ABlockIsAFourThousandthOfTheBudgetBetweenOneAnd1024) {
  EXPECT_EQ(EncryptionLeases::BlockFor(Budget(uint64_t{1} << 24)), 1024u);
  EXPECT_EQ(EncryptionLeases::BlockFor(Budget(uint64_t{1} << 32)), 1024u);
  EXPECT_EQ(EncryptionLeases::BlockFor(Budget(4096 * 10)), 10u);
  EXPECT_EQ(EncryptionLeases::BlockFor(Budget(4095)), 1u);
  EXPECT_EQ(EncryptionLeases::BlockFor(Budget(1)), 1u);
}

TEST_F(EncryptionLeasesTest, AThreadReservesUsesInBlocks) {
  Start(Budget(uint64_t{1} << 24));
  Used first = Use();
  EXPECT_EQ(first.uses, 1024u);  // one block reserved by the first record
  Used used;
  for (int i = 1; i < 5000; ++i) used = Use();
  EXPECT_EQ(used.edek, first.edek);
  EXPECT_EQ(used.uses, 5 * 1024u);  // 5000 records: five blocks
  EXPECT_EQ(source_.generate_calls(), 1);
}

TEST_F(EncryptionLeasesTest, ErrorsOfTheUseComeBackAndStillSpendTheUse) {
  Start(Budget(3));
  absl::Status failed = leases_->WithKey(
      "orders", [](const EncryptionKey&) { return absl::InternalError("sealing failed"); });
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  Used second = Use();
  Used third = Use();
  EXPECT_EQ(second.edek, third.edek);
  EXPECT_NE(Use().edek, third.edek);  // three uses spent: a new DEK
}

TEST_F(EncryptionLeasesTest, SourceErrorsComeBackWithoutCallingTheUse) {
  Start(Budget(3));
  source_.FailWith(absl::UnavailableError("broker down"));
  bool called = false;
  absl::Status status = leases_->WithKey("orders", [&](const EncryptionKey&) {
    called = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(called);
  source_.FailWith(absl::OkStatus());
  EXPECT_FALSE(Use().edek.empty());
}

// More threads than lease slots, a budget of 10-use blocks: no DEK is used
// more than its budget, every record gets a DEK.
TEST_F(EncryptionLeasesTest, NoDekIsUsedBeyondItsBudgetWhateverTheThreads) {
  constexpr uint64_t kBudget = 4096 * 10;
  Start(Budget(kBudget, 0.5));
  constexpr int kThreads = 20, kPerThread = 5000;
  std::vector<std::map<std::string, uint64_t>> seen(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::Status status = leases_->WithKey("orders", [&](const EncryptionKey& key) {
          ++seen[t][key.edek];
          return absl::OkStatus();
        });
        if (!status.ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, ::testing::Each(0));
  std::map<std::string, uint64_t> uses;
  for (const auto& per_thread : seen) {
    for (const auto& [edek, count] : per_thread) uses[edek] += count;
  }
  uint64_t total = 0;
  for (const auto& [edek, count] : uses) {
    EXPECT_LE(count, kBudget);
    total += count;
  }
  EXPECT_EQ(total, uint64_t{kThreads} * kPerThread);
  EXPECT_GE(uses.size(), total / kBudget);
}

TEST_F(EncryptionLeasesTest, PastTheRefreshAgeTheNextDekIsFetchedAheadAndTakesOverAtExpiry) {
  Start(Budget(uint64_t{1} << 24, 0.5, absl::Minutes(10)));
  const std::string first = Use().edek;
  clock_.Advance(absl::Minutes(6));
  EXPECT_EQ(Use().edek, first);  // still valid, and asks for the next one
  ASSERT_TRUE(source_.AwaitGenerateCalls(2));
  clock_.Advance(absl::Minutes(4));  // the first DEK's max age
  const std::string second = Use().edek;
  EXPECT_NE(second, first);
  EXPECT_EQ(source_.generate_calls(), 2);  // the one fetched ahead
}

// A thread leaves a lease on the first DEK and goes away; once another
// thread's lease moves to the next DEK, nothing holds the first one.
TEST_F(EncryptionLeasesTest, AReplacedDekIsLetGoByIdleLeases) {
  Start(Budget(4));
  absl::StatusOr<std::shared_ptr<const EncryptionKey>> first = keys_->Acquire("orders");
  ASSERT_OK(first);
  std::weak_ptr<const EncryptionKey> watched = *first;
  const std::string first_edek = (*first)->edek;
  first->reset();
  std::thread idle([&] { EXPECT_EQ(Use().edek, first_edek); });
  idle.join();
  std::string edek = first_edek;
  for (int i = 0; i < 4 && edek == first_edek; ++i) edek = Use().edek;
  ASSERT_NE(edek, first_edek);
  EXPECT_TRUE(watched.expired());
}

// As the Encryptor drops a key made inaccessible: the keys, then the leases.
// This thread's lease is in use during the drop (it renews at its next
// record), another thread's is idle (let go at once).
TEST_F(EncryptionLeasesTest, AfterADropNoThreadUsesTheAliasesDekAgain) {
  Start(Budget(uint64_t{1} << 24));  // blocks of 1024 uses
  absl::StatusOr<std::shared_ptr<const EncryptionKey>> first = keys_->Acquire("orders");
  ASSERT_OK(first);
  std::weak_ptr<const EncryptionKey> watched = *first;
  const std::string first_edek = (*first)->edek;
  first->reset();
  const std::string payments = Use("payments").edek;
  std::thread idle([&] { EXPECT_EQ(Use().edek, first_edek); });
  idle.join();

  ASSERT_OK(leases_->WithKey("orders", [&](const EncryptionKey& key) {
    EXPECT_EQ(key.edek, first_edek);
    keys_->DropIf([](absl::string_view alias, absl::string_view) { return alias == "orders"; });
    leases_->Drop("orders");
    return absl::OkStatus();
  }));
  const std::string after = Use().edek;
  EXPECT_NE(after, first_edek);
  EXPECT_TRUE(watched.expired());  // no lease holds it any more
  std::string idle_after;
  std::thread renewed([&] { idle_after = Use().edek; });
  renewed.join();
  EXPECT_EQ(idle_after, after);
  EXPECT_EQ(Use("payments").edek, payments);
  EXPECT_EQ(source_.generate_calls(), 3);
}

TEST_F(EncryptionLeasesTest, DroppingAnAliasNeverUsedDoesNothing) {
  Start(Budget(uint64_t{1} << 24));
  leases_->Drop("never-used");
  EXPECT_EQ(source_.generate_calls(), 0);
}

TEST_F(EncryptionLeasesTest, AliasesHaveLeasesOfTheirOwn) {
  Start(Budget(uint64_t{1} << 24));
  const std::string orders = Use("orders").edek;
  const std::string payments = Use("payments").edek;
  EXPECT_NE(orders, payments);
  // More aliases than the per-thread cache holds, then the first again.
  for (int i = 0; i < 6; ++i) Use("alias-" + std::to_string(i));
  EXPECT_EQ(Use("orders").edek, orders);
  EXPECT_EQ(Use("payments").edek, payments);
}

}  // namespace
}  // namespace keybroker::sdk::internal
