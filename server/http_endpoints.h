// HttpEndpoints: the HTTP server on the metrics port (civetweb), serving
//   GET /metrics   Prometheus text exposition
//   GET /healthz   200 while the process is alive and serving HTTP
//   GET /readyz    200 when ready to take traffic, 503 and the cause otherwise
// Anything else is 404; methods other than GET and HEAD are 405.
#ifndef KEYBROKER_SERVER_HTTP_ENDPOINTS_H_
#define KEYBROKER_SERVER_HTTP_ENDPOINTS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace keybroker::server {

class HttpEndpoints {
 public:
  struct Handlers {
    std::function<std::string()> metrics;  // the exposition text
    std::function<absl::Status()> ready;   // OK when ready; else the cause
  };

  // Listens on `address` ("host:port" with a numeric host, "[v6]:port";
  // port 0 picks a free one). The handlers run on the server's threads and
  // must be safe for concurrent use.
  static absl::StatusOr<std::unique_ptr<HttpEndpoints>> Start(const std::string& address,
                                                              Handlers handlers);

  // The address actually bound (with the chosen port when 0 was given).
  const std::string& address() const { return address_; }

  // Stops serving; returns when no handler runs any more.
  ~HttpEndpoints();

 private:
  explicit HttpEndpoints(Handlers handlers) : handlers_(std::move(handlers)) {}
  static int HandleRequest(::mg_connection* connection, void* self);

  Handlers handlers_;
  std::string address_;
  ::mg_context* context_ = nullptr;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_HTTP_ENDPOINTS_H_
