#include "kms_adapters/azure/retrying_http_client.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::IsOk;
using ::keybroker::testing::JsonResponse;
using ::keybroker::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A clock that only moves when slept on; records every sleep.
class FakeSleeper : public Sleeper {
 public:
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void SleepFor(absl::Duration duration) override {
    absl::MutexLock lock(&mu_);
    sleeps_.push_back(duration);
    now_ += duration;
  }
  std::vector<absl::Duration> sleeps() {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'700'000'000);
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

HttpResponse Status(int status) { return JsonResponse(status, "{}"); }

HttpResponse Throttled(const std::string& retry_after) {
  HttpResponse response = JsonResponse(429, R"({"error":{"code":"Throttled"}})");
  response.headers.emplace_back("Retry-After", retry_after);
  return response;
}

// Answers the scripted results in order, then repeats the last.
FakeHttpClient::Handler Script(std::vector<absl::StatusOr<HttpResponse>> results) {
  auto shared = std::make_shared<std::vector<absl::StatusOr<HttpResponse>>>(std::move(results));
  auto next = std::make_shared<size_t>(0);
  return [shared, next](const HttpRequest&) {
    size_t index = std::min(*next, shared->size() - 1);
    ++*next;
    return (*shared)[index];
  };
}

class RetryingHttpClientTest : public ::testing::Test {
 protected:
  // Builds the client under test over a fake answering `results`.
  void Use(std::vector<absl::StatusOr<HttpResponse>> results, RetryPolicy policy = {}) {
    auto fake = std::make_unique<FakeHttpClient>(Script(std::move(results)));
    fake_ = fake.get();
    client_ = std::make_unique<RetryingHttpClient>(std::move(fake), policy, &sleeper_);
  }

  absl::StatusOr<HttpResponse> Send(absl::Duration time_left = absl::Seconds(30),
                                    bool retry_safe = true) {
    HttpRequest request;
    request.retry_safe = retry_safe;
    request.method = "POST";
    request.url = "https://v.vault.azure.net/keys/k/1/unwrapkey?api-version=7.4";
    return client_->Send(request, sleeper_.Now() + time_left);
  }

  size_t Attempts() const { return fake_->requests().size(); }

  FakeSleeper sleeper_;
  FakeHttpClient* fake_ = nullptr;
  std::unique_ptr<RetryingHttpClient> client_;
};

TEST_F(RetryingHttpClientTest, SuccessIsNotRetried) {
  Use({Status(200)});

  ASSERT_THAT(Send(), IsOk());
  EXPECT_EQ(Attempts(), 1u);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(RetryingHttpClientTest, StateChangingRequestsAreRetriedOnlyWhenThrottled) {
  Use({Status(503), Status(200)});
  EXPECT_EQ(Send(absl::Seconds(30), /*retry_safe=*/false)->status, 503);
  EXPECT_EQ(Attempts(), 1u) << "a 503 may follow a rotation that happened";

  Use({absl::UnavailableError("connection reset"), Status(200)});
  EXPECT_FALSE(Send(absl::Seconds(30), /*retry_safe=*/false).ok());
  EXPECT_EQ(Attempts(), 1u);

  Use({Throttled("1"), Status(200)});
  EXPECT_EQ(Send(absl::Seconds(30), /*retry_safe=*/false)->status, 200);
  EXPECT_EQ(Attempts(), 2u) << "a 429 was not acted on";
}

TEST_F(RetryingHttpClientTest, ThrottledThenOkRetriesOnceAfterRetryAfter) {
  Use({Throttled("3"), Status(200)});

  absl::StatusOr<HttpResponse> response = Send();

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(Attempts(), 2u);
  EXPECT_THAT(sleeper_.sleeps(), ElementsAre(absl::Seconds(3)));
}

TEST_F(RetryingHttpClientTest, LastThrottledResponseIsReturnedAsIs) {
  Use({Throttled("1")});

  absl::StatusOr<HttpResponse> response = Send();

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->Header("Retry-After"), "1");
  EXPECT_EQ(Attempts(), 4u);
  EXPECT_EQ(sleeper_.sleeps().size(), 3u);
}

TEST_F(RetryingHttpClientTest, RetryAfterBeyondTheDeadlineStopsAtOnce) {
  Use({Throttled("10"), Status(200)});

  absl::StatusOr<HttpResponse> response = Send(absl::Seconds(5));

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(Attempts(), 1u);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(RetryingHttpClientTest, RetryAfterOverTheCapIsNotWaitedFor) {
  RetryPolicy policy;
  policy.max_retry_after = absl::Seconds(10);
  Use({Throttled("3600"), Status(200)}, policy);

  absl::StatusOr<HttpResponse> response = Send(absl::InfiniteDuration());

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 429);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(RetryingHttpClientTest, UnparsableRetryAfterFallsBackToBackoff) {
  Use({Throttled("Wed, 21 Oct 2015 07:28:00 GMT"), Status(200)});

  ASSERT_THAT(Send(), IsOk());
  ASSERT_EQ(sleeper_.sleeps().size(), 1u);
  EXPECT_LE(sleeper_.sleeps()[0], absl::Milliseconds(100));
}

TEST_F(RetryingHttpClientTest, ServerErrorsAreRetriedUntilAttemptsRunOut) {
  Use({Status(503), Status(500), Status(502), Status(504), Status(200)});

  absl::StatusOr<HttpResponse> response = Send();

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 504);
  EXPECT_EQ(Attempts(), 4u);
}

TEST_F(RetryingHttpClientTest, MaxAttemptsIsConfigurable) {
  RetryPolicy policy;
  policy.max_attempts = 2;
  Use({Status(503)}, policy);

  EXPECT_EQ(Send()->status, 503);
  EXPECT_EQ(Attempts(), 2u);
}

TEST_F(RetryingHttpClientTest, ServerErrorThenOkSucceeds) {
  Use({Status(500), Status(200)});

  EXPECT_EQ(Send()->status, 200);
  EXPECT_EQ(Attempts(), 2u);
}

TEST_F(RetryingHttpClientTest, OtherClientErrorsAreNotRetried) {
  for (int status : {400, 401, 403, 404, 409}) {
    Use({Status(status), Status(200)});

    absl::StatusOr<HttpResponse> response = Send();

    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, status);
    EXPECT_EQ(Attempts(), 1u) << status;
  }
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(RetryingHttpClientTest, TransportFailuresAreRetried) {
  Use({absl::UnavailableError("connection refused"), Status(200)});

  absl::StatusOr<HttpResponse> response = Send();

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(Attempts(), 2u);
}

TEST_F(RetryingHttpClientTest, LastTransportFailureIsReturned) {
  Use({absl::UnavailableError("connection refused")});

  EXPECT_THAT(Send(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Attempts(), 4u);
}

TEST_F(RetryingHttpClientTest, OtherErrorsAreNotRetried) {
  Use({absl::DeadlineExceededError("too slow"), Status(200)});
  EXPECT_THAT(Send(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(Attempts(), 1u);

  Use({absl::InvalidArgumentError("bad url"), Status(200)});
  EXPECT_THAT(Send(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Attempts(), 1u);
}

TEST_F(RetryingHttpClientTest, DeadlineStopsRetriesEarly) {
  RetryPolicy policy;
  policy.max_attempts = 100;
  Use({Throttled("1")}, policy);

  absl::StatusOr<HttpResponse> response = Send(absl::Milliseconds(3500));

  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 429);
  // Sleeps of 1 s at 0, 1 and 2 s; a fourth would end at 4 s, past 3.5 s.
  EXPECT_EQ(Attempts(), 4u);
  EXPECT_EQ(sleeper_.sleeps().size(), 3u);
}

TEST_F(RetryingHttpClientTest, NeverSleepsPastTheDeadline) {
  RetryPolicy policy;
  policy.max_attempts = 1000;
  policy.base_backoff = absl::Milliseconds(50);
  policy.max_backoff = absl::Milliseconds(400);
  Use({Status(503)}, policy);
  absl::Time deadline = sleeper_.Now() + absl::Seconds(2);

  EXPECT_EQ(Send(absl::Seconds(2))->status, 503);

  EXPECT_LT(sleeper_.Now(), deadline);
  EXPECT_GT(Attempts(), 1u);
}

TEST_F(RetryingHttpClientTest, CancelledAfterTheFirstAttemptIsNotRetried) {
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto fake = std::make_unique<FakeHttpClient>([cancelled](const HttpRequest&) {
    cancelled->store(true);  // the caller goes away while the vault answers
    return absl::StatusOr<HttpResponse>(Status(503));
  });
  fake_ = fake.get();
  client_ = std::make_unique<RetryingHttpClient>(std::move(fake), RetryPolicy{}, &sleeper_);
  HttpRequest request;
  request.url = "https://v.vault.azure.net/keys/k";
  request.cancelled = [cancelled] { return cancelled->load(); };

  EXPECT_THAT(client_->Send(request, sleeper_.Now() + absl::Seconds(30)),
              StatusIs(absl::StatusCode::kCancelled, "the caller cancelled the call"));
  EXPECT_EQ(Attempts(), 1u);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(RetryingHttpClientTest, CancellationEndsTheBackoffEarly) {
  Use({Throttled("5")});
  const absl::Time start = sleeper_.Now();
  HttpRequest request;
  request.url = "https://v.vault.azure.net/keys/k";
  request.cancelled = [this, start] { return sleeper_.Now() - start >= absl::Milliseconds(200); };

  EXPECT_THAT(client_->Send(request, start + absl::Seconds(30)),
              StatusIs(absl::StatusCode::kCancelled));

  EXPECT_EQ(Attempts(), 1u);
  // Slept in slices of kCancelPollInterval, and stopped at the first look
  // after the cancellation rather than after Retry-After's 5 s.
  EXPECT_EQ(sleeper_.Now() - start, absl::Milliseconds(200));
  for (absl::Duration slept : sleeper_.sleeps()) EXPECT_LE(slept, kCancelPollInterval);
}

TEST_F(RetryingHttpClientTest, UncancelledBackoffSleepsInFull) {
  Use({Throttled("1"), Status(200)});
  HttpRequest request;
  request.url = "https://v.vault.azure.net/keys/k";
  request.cancelled = [] { return false; };

  ASSERT_THAT(client_->Send(request, sleeper_.Now() + absl::Seconds(30)), IsOk());

  EXPECT_EQ(Attempts(), 2u);
  absl::Duration slept = absl::ZeroDuration();
  for (absl::Duration d : sleeper_.sleeps()) slept += d;
  EXPECT_EQ(slept, absl::Seconds(1));
}

TEST(RetryingHttpClientRealClockTest, CancellationWakesARealBackoffSleep) {
  auto fake = std::make_unique<FakeHttpClient>(Script({Throttled("20")}));
  FakeHttpClient* inner = fake.get();
  RetryingHttpClient client(std::move(fake), RetryPolicy{});
  std::atomic<bool> cancelled = false;
  HttpRequest request;
  request.url = "https://v.vault.azure.net/keys/k";
  request.cancelled = [&cancelled] { return cancelled.load(); };
  std::thread canceller([&cancelled] {
    absl::SleepFor(absl::Milliseconds(100));
    cancelled = true;
  });
  const absl::Time start = absl::Now();

  EXPECT_THAT(client.Send(request, start + absl::Seconds(60)),
              StatusIs(absl::StatusCode::kCancelled));

  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "not Retry-After's 20 s";
  EXPECT_EQ(inner->requests().size(), 1u);
  canceller.join();
}

// Full jitter: the k-th wait is uniform in [0, min(cap, base * 2^(k-1))].
// Over many runs the largest k-th wait approaches its ceiling, so the
// ceilings' growth is visible without fixing the random source.
TEST_F(RetryingHttpClientTest, BackoffGrowsAndStaysUnderTheCap) {
  RetryPolicy policy;
  policy.max_attempts = 7;
  policy.base_backoff = absl::Milliseconds(100);
  policy.max_backoff = absl::Milliseconds(1000);
  const std::vector<absl::Duration> ceilings = {absl::Milliseconds(100),  absl::Milliseconds(200),
                                                absl::Milliseconds(400),  absl::Milliseconds(800),
                                                absl::Milliseconds(1000), absl::Milliseconds(1000)};
  std::vector<absl::Duration> largest(ceilings.size(), absl::ZeroDuration());
  for (int run = 0; run < 300; ++run) {
    FakeSleeper sleeper;
    auto fake = std::make_unique<FakeHttpClient>(Script({Status(503)}));
    RetryingHttpClient client(std::move(fake), policy, &sleeper);
    HttpRequest request;
    request.url = "https://v.vault.azure.net/keys/k";
    EXPECT_EQ(client.Send(request, sleeper.Now() + absl::Hours(1))->status, 503);
    std::vector<absl::Duration> sleeps = sleeper.sleeps();
    ASSERT_EQ(sleeps.size(), ceilings.size());
    for (size_t k = 0; k < sleeps.size(); ++k) {
      EXPECT_GE(sleeps[k], absl::ZeroDuration());
      EXPECT_LE(sleeps[k], ceilings[k]) << "retry " << k + 1;
      largest[k] = std::max(largest[k], sleeps[k]);
    }
  }
  // Each largest wait is within 10% of its ceiling (chance of failing: 0.9^300).
  for (size_t k = 0; k < ceilings.size(); ++k) {
    EXPECT_GT(largest[k], ceilings[k] * 0.9) << "retry " << k + 1;
  }
}

TEST_F(RetryingHttpClientTest, SendsTheSameRequestEachTime) {
  Use({Status(503), Status(200)});
  HttpRequest request;
  request.method = "POST";
  request.url = "https://v.vault.azure.net/keys/k/1/unwrapkey?api-version=7.4";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = R"({"alg":"RSA-OAEP-256","value":"x"})";

  ASSERT_THAT(client_->Send(request, sleeper_.Now() + absl::Seconds(30)), IsOk());

  std::vector<HttpRequest> sent = fake_->requests();
  ASSERT_EQ(sent.size(), 2u);
  for (const HttpRequest& each : sent) {
    EXPECT_EQ(each.method, request.method);
    EXPECT_EQ(each.url, request.url);
    EXPECT_EQ(each.headers, request.headers);
    EXPECT_EQ(each.body, request.body);
  }
}

}  // namespace
}  // namespace keybroker::kms::azure
