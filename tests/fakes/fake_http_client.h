// FakeHttpClient: an in-memory HttpClient for unit tests. Each request is
// recorded; the answer comes from a handler the test installs (a function of
// the request), so tests script real response shapes without a network.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_HTTP_CLIENT_H_
#define KEYBROKER_TESTS_FAKES_FAKE_HTTP_CLIENT_H_

#include <functional>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::testing {

class FakeHttpClient : public kms::azure::HttpClient {
 public:
  using Handler = std::function<absl::StatusOr<kms::azure::HttpResponse>(
      const kms::azure::HttpRequest&)>;

  explicit FakeHttpClient(Handler handler) : handler_(std::move(handler)) {}

  absl::StatusOr<kms::azure::HttpResponse> Send(const kms::azure::HttpRequest& request,
                                                absl::Time deadline) override {
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
    }
    return handler_(request);
  }

  std::vector<kms::azure::HttpRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  Handler handler_;
  mutable absl::Mutex mu_;
  std::vector<kms::azure::HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
};

// A JSON response with `status` and `body`.
inline kms::azure::HttpResponse JsonResponse(int status, std::string body) {
  kms::azure::HttpResponse response;
  response.status = status;
  response.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  response.body = std::move(body);
  return response;
}

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_HTTP_CLIENT_H_
