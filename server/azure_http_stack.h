// The HTTP client stack the broker talks to Azure through: the cpprest
// transport, optionally a per-origin concurrency limit, and retries on top.
#ifndef KEYBROKER_SERVER_AZURE_HTTP_STACK_H_
#define KEYBROKER_SERVER_AZURE_HTTP_STACK_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::server {

// `per_origin_limit` > 0 caps the requests in flight to each origin (a vault);
// a call that finds its origin full waits briefly, then is answered
// KMS_THROTTLED. 0: no limit (Entra ID, whose calls the token cache already
// bounds).
absl::StatusOr<std::unique_ptr<kms::azure::HttpClient>> NewAzureHttpClient(
    const kms::azure::TlsTrust& trust, absl::Duration request_timeout, int per_origin_limit);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AZURE_HTTP_STACK_H_
