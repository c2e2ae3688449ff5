// CpprestHttpClient: the HttpClient that really reaches the network, over
// cpprestsdk (Boost.Asio and OpenSSL underneath).
//
// One cpprest http_client per origin (scheme://host:port), created on first
// use and kept for the object's lifetime so that TLS connections are pooled
// and reused (keep-alive). TLS trust is fixed at creation: a configured CA
// bundle replaces the system roots; host names are always checked
// (RFC 2818) unless verification is switched off for tests.
//
// Each Send returns by min(deadline, now + request_timeout), whatever the
// server does: cpprest runs the request on its own thread pool and Send
// waits for it with a deadline, cancelling it when the time is up. A
// cancelled request finishes in the background (its connection is closed,
// never pooled).
//
// No exception leaves this class, and nothing is logged: error messages name
// the host, never the request's headers or body.
//
// Thread-safety: safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_CPPREST_HTTP_CLIENT_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_CPPREST_HTTP_CLIENT_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kms_adapters/azure/http_client.h"
#include "kms_adapters/azure/url.h"

// Kept out of this header so that its includers do not pull in Boost.
namespace web::http::client {
class http_client;
}  // namespace web::http::client

namespace keybroker::kms::azure {

class CpprestHttpClient : public HttpClient {
 public:
  // Creates a client trusting `trust`, giving each request at most
  // `request_timeout`. FAILED_PRECONDITION when trust.ca_file is set but
  // cannot be read or holds no PEM certificate (the message names the file);
  // INVALID_ARGUMENT when request_timeout is not positive and finite.
  static absl::StatusOr<std::unique_ptr<CpprestHttpClient>> Create(TlsTrust trust,
                                                                   absl::Duration request_timeout);

  ~CpprestHttpClient() override;

  // Sends `request` (an absolute http or https URL). Returns any HTTP
  // response, including 4xx and 5xx. DEADLINE_EXCEEDED when `deadline` passes
  // first; UNAVAILABLE on connection, TLS or read failures and when
  // request_timeout passes before `deadline` (a hung attempt is a transport
  // failure, worth a retry); INVALID_ARGUMENT for a malformed URL.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Time deadline) override;

 private:
  CpprestHttpClient(TlsTrust trust, absl::Duration request_timeout);

  // Returns the cpprest client for url's origin, creating it on first use.
  // Throws what cpprest throws; Send catches it.
  std::shared_ptr<web::http::client::http_client> ClientFor(const Url& url);

  // Set at construction.
  const TlsTrust trust_;
  const absl::Duration request_timeout_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<web::http::client::http_client>> clients_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_CPPREST_HTTP_CLIENT_H_
