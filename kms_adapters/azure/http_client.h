// HttpClient: the one way the Azure adapters reach the network.
//
// A small interface so that Key Vault and Entra ID clients can be tested
// against fakes, and so that the transport (cpprestsdk) stays in one file.
// Implementations are safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_HTTP_CLIENT_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_HTTP_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace keybroker::kms::azure {

// Whether the caller gave up on the call (a cancelled gRPC call, see
// kms::CallOptions); empty means never. Polled from the calling thread, so it
// must be cheap and thread-safe.
using CancelledFn = std::function<bool()>;

inline bool IsCancelled(const CancelledFn& cancelled) { return cancelled && cancelled(); }

// The error of a call given up because its caller cancelled it. No reason
// payload: it says nothing about the key or the vault.
inline absl::Status CallerCancelled() {
  return absl::CancelledError("the caller cancelled the call");
}

// How often waits (retry backoff, a request slot, another call's fetch) look
// at a CancelledFn.
inline constexpr absl::Duration kCancelPollInterval = absl::Milliseconds(50);

// Like mu->AwaitWithDeadline(condition, deadline) (mu held), but also
// returns false, at most kCancelPollInterval late, once `cancelled` says so.
bool AwaitUnlessCancelled(absl::Mutex* mu, const absl::Condition& condition, absl::Time deadline,
                          const CancelledFn& cancelled) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

struct HttpRequest {
  std::string method;  // "GET", "POST"
  std::string url;     // absolute: https://host[:port]/path?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // False for requests that change state (Key Vault's rotate): they are not
  // retried after a 5xx or a lost connection, which may follow a success.
  bool retry_safe = true;
  // The caller's cancellation: retries and waits for a request slot stop
  // when it says so (a request already sent runs to its end or deadline).
  CancelledFn cancelled;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of header `name` (case-insensitive), or "" when absent.
  std::string Header(absl::string_view name) const;
};

// Trust settings for one TLS client.
struct TlsTrust {
  // PEM bundle of roots to trust instead of the system's; empty: system roots.
  std::string ca_file;
  // Skip certificate verification. Tests only: configuration refuses it unless
  // explicitly allowed, and it is logged as a warning.
  bool insecure_skip_verify = false;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Sends `request` and returns the response, whatever its HTTP status.
  // Fails only when there is no response: UNAVAILABLE for connection, TLS or
  // read failures; DEADLINE_EXCEEDED when `deadline` passes first; CANCELLED
  // (CallerCancelled) when a decorator gives up on `request.cancelled`.
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Time deadline) = 0;
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_HTTP_CLIENT_H_
