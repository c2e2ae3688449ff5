#include "server/azure_http_stack.h"

#include <utility>

#include "common/status_macros.h"
#include "kms_adapters/azure/concurrency_limited_http_client.h"
#include "kms_adapters/azure/cpprest_http_client.h"
#include "kms_adapters/azure/retrying_http_client.h"

namespace keybroker::server {
namespace {

namespace az = kms::azure;

// Short, so that a saturated vault sheds load instead of queueing callers
// until their own deadlines.
constexpr absl::Duration kMaxSlotWait = absl::Seconds(2);

}  // namespace

absl::StatusOr<std::unique_ptr<az::HttpClient>> NewAzureHttpClient(const az::TlsTrust& trust,
                                                                   absl::Duration request_timeout,
                                                                   int per_origin_limit) {
  ASSIGN_OR_RETURN(std::unique_ptr<az::CpprestHttpClient> transport,
                   az::CpprestHttpClient::Create(trust, request_timeout));
  std::unique_ptr<az::HttpClient> client = std::move(transport);
  // The limit sits under the retries: a request waiting out a backoff or a
  // Retry-After holds no slot of its vault.
  if (per_origin_limit > 0) {
    client = std::make_unique<az::ConcurrencyLimitedHttpClient>(std::move(client), per_origin_limit,
                                                                kMaxSlotWait);
  }
  return std::make_unique<az::RetryingHttpClient>(std::move(client), az::RetryPolicy());
}

}  // namespace keybroker::server
