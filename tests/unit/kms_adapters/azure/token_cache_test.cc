#include "kms_adapters/azure/entra/token_cache.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::FakeClock;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::LogCapture;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kVault[] = "https://vault.azure.net/.default";
constexpr char kHsm[] = "https://managedhsm.azure.net/.default";

// A credential that issues "token-N" (N counting fetches) valid for
// `lifetime` from the fake clock's now, or fails while `failure` is set. A
// test can hold fetches at a gate to have several callers meet one fetch.
class ScriptedCredential : public Credential {
 public:
  explicit ScriptedCredential(const FakeClock* clock) : clock_(clock) {}

  absl::StatusOr<AccessToken> Fetch(absl::string_view scope, absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    ++fetches_;
    scopes_.push_back(std::string(scope));
    auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !held_; };
    mu_.Await(absl::Condition(&released));
    if (!failure_.ok()) return failure_;
    return AccessToken{crypto::SecretBytes::CopyFrom(absl::StrCat("token-", fetches_)),
                       clock_->Now() + lifetime_};
  }

  void set_lifetime(absl::Duration lifetime) {
    absl::MutexLock lock(&mu_);
    lifetime_ = lifetime;
  }
  void set_failure(absl::Status failure) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(failure);
  }
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  // Blocks until `n` fetches have started.
  void AwaitFetches(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return fetches_ >= n; };
    mu_.Await(absl::Condition(&reached));
  }
  int fetches() const {
    absl::MutexLock lock(&mu_);
    return fetches_;
  }
  std::vector<std::string> scopes() const {
    absl::MutexLock lock(&mu_);
    return scopes_;
  }

 private:
  const FakeClock* const clock_;
  mutable absl::Mutex mu_;
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> scopes_ ABSL_GUARDED_BY(mu_);
  absl::Duration lifetime_ ABSL_GUARDED_BY(mu_) = absl::Hours(1);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  bool held_ ABSL_GUARDED_BY(mu_) = false;
};

class TokenCacheTest : public ::testing::Test {
 protected:
  TokenCacheTest() {
    auto credential = std::make_unique<ScriptedCredential>(&clock_);
    credential_ = credential.get();
    cache_ = std::make_unique<TokenCache>("fhir-prod", std::move(credential), &clock_);
  }

  // The token the cache hands out now, or the error's message.
  std::string Get(absl::string_view scope = kVault, absl::Time deadline = absl::InfiniteFuture()) {
    absl::StatusOr<crypto::SecretBytes> token = cache_->Token(scope, deadline);
    if (!token.ok()) return absl::StrCat("error: ", token.status().message());
    return std::string(token->RevealAsStringView());
  }

  FakeClock clock_;
  ScriptedCredential* credential_;  // owned by cache_
  std::unique_ptr<TokenCache> cache_;
};

TEST_F(TokenCacheTest, ReusesTheTokenPerScope) {
  EXPECT_EQ(Get(kVault), "token-1");
  EXPECT_EQ(Get(kVault), "token-1");
  EXPECT_EQ(Get(kHsm), "token-2");
  EXPECT_EQ(Get(kVault), "token-1");
  EXPECT_EQ(Get(kHsm), "token-2");
  EXPECT_EQ(credential_->fetches(), 2);
  EXPECT_THAT(credential_->scopes(), ::testing::ElementsAre(kVault, kHsm));
}

TEST_F(TokenCacheTest, RefreshesFiveMinutesBeforeExpiry) {
  EXPECT_EQ(Get(), "token-1");  // valid for an hour
  clock_.Advance(absl::Minutes(54));
  EXPECT_EQ(Get(), "token-1");
  clock_.Advance(absl::Minutes(1) + absl::Seconds(1));  // 4:59 left
  EXPECT_EQ(Get(), "token-2");
  EXPECT_EQ(Get(), "token-2");
  EXPECT_EQ(credential_->fetches(), 2);
}

TEST_F(TokenCacheTest, ShortTokensRefreshAtHalfTheirLifetime) {
  credential_->set_lifetime(absl::Seconds(60));
  EXPECT_EQ(Get(), "token-1");
  clock_.Advance(absl::Seconds(29));
  EXPECT_EQ(Get(), "token-1");
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Get(), "token-2");
}

TEST_F(TokenCacheTest, AnExpiredTokenIsNeverHandedOut) {
  EXPECT_EQ(Get(), "token-1");
  credential_->set_failure(
      MakeError(ErrorReason::kKmsUnavailable, "entra id refused the broker's own credential"));
  clock_.Advance(absl::Hours(2));
  absl::StatusOr<crypto::SecretBytes> token = cache_->Token(kVault, absl::InfiniteFuture());
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
  // The error names the identity and the scope.
  EXPECT_THAT(std::string(token.status().message()),
              AllOf(HasSubstr("fhir-prod"), HasSubstr(kVault), HasSubstr("refused")));
}

// A broker credential Entra refuses fails every call of the identity: one
// error line for the operator (a service fault), not one per call, and a
// line when tokens come again.
TEST_F(TokenCacheTest, ACredentialThatStopsWorkingIsLoggedOncePerEpisode) {
  LogCapture log;
  credential_->set_failure(MakeError(ErrorReason::kKmsUnavailable,
                                     "entra id refused the broker's own credential: HTTP 401"));
  for (int i = 0; i < 3; ++i) EXPECT_THAT(Get(), HasSubstr("refused"));
  std::vector<nlohmann::json> failed = log.Events("entra_token_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["level"], "error");
  EXPECT_EQ(failed[0]["identity"], "fhir-prod");
  EXPECT_EQ(failed[0]["scope"], kVault);
  EXPECT_EQ(failed[0]["reason"], "KMS_UNAVAILABLE");
  EXPECT_EQ(failed[0]["cause"], "service");
  EXPECT_THAT(failed[0]["error"].get<std::string>(), HasSubstr("fhir-prod"));

  credential_->set_failure(absl::OkStatus());
  EXPECT_EQ(Get(), "token-4");
  ASSERT_EQ(log.Events("entra_token_recovered").size(), 1u);
  EXPECT_EQ(log.Events("entra_token_recovered")[0]["identity"], "fhir-prod");
  EXPECT_EQ(log.Events("entra_token_failed").size(), 1u);
}

TEST_F(TokenCacheTest, NoTokenInItsLastThirtySeconds) {
  EXPECT_EQ(Get(), "token-1");
  credential_->set_failure(MakeError(ErrorReason::kKmsUnavailable, "entra id down"));
  clock_.Advance(absl::Minutes(59) + absl::Seconds(25));  // 35 s left: still usable
  EXPECT_EQ(Get(), "token-1");
  clock_.Advance(absl::Seconds(10));  // 25 s left
  EXPECT_THAT(Get(), HasSubstr("entra id down"));
}

TEST_F(TokenCacheTest, AFailedEarlyRefreshKeepsTheOldTokenAndBacksOff) {
  EXPECT_EQ(Get(), "token-1");
  credential_->set_failure(MakeError(ErrorReason::kKmsUnavailable, "entra id down"));
  clock_.Advance(absl::Minutes(56));
  EXPECT_EQ(Get(), "token-1");  // refresh tried and failed
  EXPECT_EQ(credential_->fetches(), 2);
  clock_.Advance(absl::Seconds(4));
  EXPECT_EQ(Get(), "token-1");  // within the backoff: no new attempt
  EXPECT_EQ(credential_->fetches(), 2);
  credential_->set_failure(absl::OkStatus());
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Get(), "token-3");
}

TEST_F(TokenCacheTest, InvalidateForcesTheNextCallToFetch) {
  EXPECT_EQ(Get(kVault), "token-1");
  EXPECT_EQ(Get(kHsm), "token-2");
  cache_->Invalidate(kVault);
  EXPECT_EQ(Get(kVault), "token-3");
  EXPECT_EQ(Get(kHsm), "token-2");                         // other scopes are untouched
  cache_->Invalidate("https://never-asked-for/.default");  // harmless
  EXPECT_EQ(credential_->fetches(), 3);
}

TEST_F(TokenCacheTest, InvalidateRetriesEvenDuringAFailureBackoff) {
  EXPECT_EQ(Get(), "token-1");
  credential_->set_failure(MakeError(ErrorReason::kKmsUnavailable, "entra id down"));
  clock_.Advance(absl::Minutes(56));
  EXPECT_EQ(Get(), "token-1");
  credential_->set_failure(absl::OkStatus());
  cache_->Invalidate(kVault);  // Key Vault refused token-1
  EXPECT_EQ(Get(), "token-3");
}

TEST_F(TokenCacheTest, ConcurrentCallersShareOneFetch) {
  credential_->Hold();
  constexpr int kThreads = 16;
  std::vector<std::string> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, &results, i] { results[i] = Get(); });
  }
  credential_->AwaitFetches(1);
  absl::SleepFor(absl::Milliseconds(100));  // let the others reach the wait
  credential_->Release();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(credential_->fetches(), 1);
  for (const std::string& result : results) EXPECT_EQ(result, "token-1");
}

TEST_F(TokenCacheTest, ConcurrentCallersShareOneFailure) {
  credential_->set_failure(MakeError(ErrorReason::kKmsUnavailable, "entra id down"));
  credential_->Hold();
  constexpr int kThreads = 8;
  std::vector<std::string> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, &results, i] { results[i] = Get(); });
  }
  credential_->AwaitFetches(1);
  absl::SleepFor(absl::Milliseconds(100));
  credential_->Release();
  for (std::thread& thread : threads) thread.join();
  // Callers that arrived after the failure may start their own fetch; those
  // that waited share the one they waited for.
  EXPECT_LT(credential_->fetches(), kThreads);
  for (const std::string& result : results) EXPECT_THAT(result, HasSubstr("entra id down"));
}

TEST_F(TokenCacheTest, OthersKeepUsingTheValidTokenDuringARefresh) {
  EXPECT_EQ(Get(), "token-1");
  clock_.Advance(absl::Minutes(58));  // due for refresh, still valid
  credential_->Hold();
  std::string refreshed;
  std::thread refresher([this, &refreshed] { refreshed = Get(); });
  credential_->AwaitFetches(2);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Get(), "token-1");  // not blocked
  credential_->Release();
  refresher.join();
  EXPECT_EQ(refreshed, "token-2");
  EXPECT_EQ(Get(), "token-2");
  EXPECT_EQ(credential_->fetches(), 2);
}

TEST_F(TokenCacheTest, AWaiterGivesUpAtItsDeadline) {
  credential_->Hold();
  std::string first;
  std::thread fetcher([this, &first] { first = Get(); });
  credential_->AwaitFetches(1);
  absl::Time start = absl::Now();
  absl::StatusOr<crypto::SecretBytes> token =
      cache_->Token(kVault, absl::Now() + absl::Milliseconds(100));
  absl::Duration waited = absl::Now() - start;
  // The waiter's own deadline, not Entra's outage: the fetch it waited for
  // tells that.
  EXPECT_THAT(token, HasReason(ErrorReason::kDeadlineExceeded));
  EXPECT_THAT(std::string(token.status().message()), HasSubstr("deadline"));
  EXPECT_GE(waited, absl::Milliseconds(90));
  EXPECT_LT(waited, absl::Seconds(5));
  credential_->Release();
  fetcher.join();
  EXPECT_EQ(first, "token-1");
  EXPECT_EQ(credential_->fetches(), 1);
}

TEST_F(TokenCacheTest, EmptyScopeIsRefused) {
  EXPECT_THAT(cache_->Token("", absl::InfiniteFuture()), HasReason(ErrorReason::kInvalidRequest));
  EXPECT_EQ(credential_->fetches(), 0);
}

}  // namespace
}  // namespace keybroker::kms::azure
