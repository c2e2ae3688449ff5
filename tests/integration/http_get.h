// HttpGet: one plain-HTTP GET over a loopback TCP socket, for tests that
// scrape the broker's /metrics or probe /healthz and /readyz.
//
// Sends "GET path HTTP/1.1" with "Connection: close" and reads the answer to
// EOF; a chunked body is decoded. No TLS, no redirects, numeric hosts only.
#ifndef KEYBROKER_TESTS_INTEGRATION_HTTP_GET_H_
#define KEYBROKER_TESTS_INTEGRATION_HTTP_GET_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace keybroker::testing {

struct HttpGetResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// GETs `path` from `address` ("127.0.0.1:PORT" or "[::1]:PORT"); fails when
// the connection, the request or the answer does not complete within
// `timeout`, or when the answer is not HTTP.
absl::StatusOr<HttpGetResponse> HttpGet(const std::string& address, const std::string& path,
                                        absl::Duration timeout = absl::Seconds(10));

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_HTTP_GET_H_
