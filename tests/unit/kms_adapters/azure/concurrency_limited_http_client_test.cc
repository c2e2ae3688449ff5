#include "kms_adapters/azure/concurrency_limited_http_client.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kms_adapters/azure/url.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::IsOk;
using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kVaultA[] = "https://a.vault.azure.net/keys/k?api-version=7.4";
constexpr char kVaultB[] = "https://b.vault.azure.net/keys/k?api-version=7.4";

// An inner client whose calls block until the test opens the gate; it counts
// the calls that got in, per origin.
class GatedHttpClient : public HttpClient {
 public:
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    ++entered_[*OriginOf(request.url)];
    mu_.Await(absl::Condition(&open_));
    HttpResponse response;
    response.status = 200;
    return response;
  }

  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }

  int Entered(const std::string& url) {
    absl::MutexLock lock(&mu_);
    return entered_[*OriginOf(url)];
  }

  // Waits up to 10 s until `count` calls for url's origin got in; returns
  // whether they did.
  bool WaitEntered(const std::string& url, int count) {
    std::string origin = *OriginOf(url);
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return entered_[origin] >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, int> entered_ ABSL_GUARDED_BY(mu_);
};

HttpRequest Get(const std::string& url) {
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  return request;
}

class ConcurrencyLimitedHttpClientTest : public ::testing::Test {
 protected:
  explicit ConcurrencyLimitedHttpClientTest(int limit = 2) {
    auto gated = std::make_unique<GatedHttpClient>();
    gated_ = gated.get();
    client_ = std::make_unique<ConcurrencyLimitedHttpClient>(std::move(gated), limit);
  }

  ~ConcurrencyLimitedHttpClientTest() override {
    gated_->Open();
    for (std::thread& thread : threads_) thread.join();
  }

  // Sends a GET to `url` from a new thread, with a generous deadline.
  void SendInBackground(const std::string& url) {
    threads_.emplace_back([this, url] {
      EXPECT_THAT(client_->Send(Get(url), absl::Now() + absl::Seconds(30)), IsOk());
    });
  }

  GatedHttpClient* gated_ = nullptr;
  std::unique_ptr<ConcurrencyLimitedHttpClient> client_;
  std::vector<std::thread> threads_;
};

TEST_F(ConcurrencyLimitedHttpClientTest, CallOverTheLimitWaitsOthersOriginsDoNot) {
  SendInBackground(kVaultA);
  SendInBackground(kVaultA);
  ASSERT_TRUE(gated_->WaitEntered(kVaultA, 2));

  SendInBackground(kVaultA);  // the third: must wait
  SendInBackground(kVaultB);  // another vault: must not
  ASSERT_TRUE(gated_->WaitEntered(kVaultB, 1));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(gated_->Entered(kVaultA), 2);

  gated_->Open();
  EXPECT_TRUE(gated_->WaitEntered(kVaultA, 3));
}

TEST_F(ConcurrencyLimitedHttpClientTest, WaitingPastTheDeadlineIsDeadlineExceeded) {
  SendInBackground(kVaultA);
  SendInBackground(kVaultA);
  ASSERT_TRUE(gated_->WaitEntered(kVaultA, 2));
  absl::Time start = absl::Now();

  EXPECT_THAT(client_->Send(Get(kVaultA), start + absl::Milliseconds(300)),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("concurrency limit of 2 in-flight requests to "
                                 "https://a.vault.azure.net:443")));

  absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(290));
  EXPECT_LT(waited, absl::Seconds(5));
  EXPECT_EQ(gated_->Entered(kVaultA), 2);
}

TEST_F(ConcurrencyLimitedHttpClientTest, CancelledCallerStopsWaitingForASlot) {
  SendInBackground(kVaultA);
  SendInBackground(kVaultA);
  ASSERT_TRUE(gated_->WaitEntered(kVaultA, 2));
  absl::Time start = absl::Now();
  HttpRequest request = Get(kVaultA);
  request.cancelled = [start] { return absl::Now() - start >= absl::Milliseconds(200); };

  EXPECT_THAT(client_->Send(request, start + absl::Seconds(30)),
              StatusIs(absl::StatusCode::kCancelled, "the caller cancelled the call"));

  absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(190));
  EXPECT_LT(waited, absl::Seconds(5)) << "not until the deadline";
  EXPECT_EQ(gated_->Entered(kVaultA), 2);
}

TEST_F(ConcurrencyLimitedHttpClientTest, CancelledCallerTakesNoFreeSlot) {
  HttpRequest request = Get(kVaultA);
  request.cancelled = [] { return true; };

  EXPECT_THAT(client_->Send(request, absl::Now() + absl::Seconds(30)),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(gated_->Entered(kVaultA), 0);
}

TEST_F(ConcurrencyLimitedHttpClientTest, OriginsAreCountedByHostAndPort) {
  SendInBackground("https://A.vault.azure.net:443/keys/x");
  SendInBackground(kVaultA);
  ASSERT_TRUE(gated_->WaitEntered(kVaultA, 2));

  SendInBackground("https://a.vault.azure.net:8443/keys/x");  // another origin

  EXPECT_TRUE(gated_->WaitEntered("https://a.vault.azure.net:8443/", 1));
}

TEST(ConcurrencyLimitedHttpClientErrorsTest, SlotsComeBackAfterErrors) {
  auto failing =
      std::make_unique<FakeHttpClient>([](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
        return absl::UnavailableError("connection refused");
      });
  ConcurrencyLimitedHttpClient client(std::move(failing), 1);

  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(client.Send(Get(kVaultA), absl::Now() + absl::Seconds(1)),
                StatusIs(absl::StatusCode::kUnavailable));
  }
}

TEST(ConcurrencyLimitedHttpClientErrorsTest, MalformedUrlIsRefusedBeforeTheInnerClient) {
  auto fake = std::make_unique<FakeHttpClient>(
      [](const HttpRequest&) -> absl::StatusOr<HttpResponse> { return HttpResponse{}; });
  FakeHttpClient* inner = fake.get();
  ConcurrencyLimitedHttpClient client(std::move(fake), 1);

  EXPECT_THAT(client.Send(Get("not a url"), absl::Now() + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(inner->requests().empty());
}

}  // namespace
}  // namespace keybroker::kms::azure
