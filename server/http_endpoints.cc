#include "server/http_endpoints.h"

#include <civetweb.h>

#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace keybroker::server {
namespace {

// Few threads: scrapes and probes are rare and quick.
constexpr char kThreads[] = "4";
constexpr char kRequestTimeoutMs[] = "10000";

void Respond(mg_connection* connection, int status, absl::string_view reason,
             absl::string_view content_type, absl::string_view body, bool head) {
  mg_printf(connection,
            "HTTP/1.1 %d %.*s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n",
            status, static_cast<int>(reason.size()), reason.data(),
            static_cast<int>(content_type.size()), content_type.data(), body.size());
  if (!head && !body.empty()) mg_write(connection, body.data(), body.size());
}

// civetweb's own messages (bind failures, bad requests) as JSON log lines.
int LogCivetwebMessage(const mg_connection*, const char* message) {
  log::Warn("metrics_http_message", {{"message", std::string(message)}});
  return 1;  // handled: civetweb prints nothing itself
}

// Fails, naming the field, unless `address` looks like host:port (civetweb
// says more if it cannot bind it).
absl::Status CheckAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_listen: \"", address, "\" is not host:port"));
  }
  return absl::OkStatus();
}

}  // namespace

int HttpEndpoints::HandleRequest(mg_connection* connection, void* self_pointer) {
  auto* self = static_cast<HttpEndpoints*>(self_pointer);
  const mg_request_info* request = mg_get_request_info(connection);
  absl::string_view method = request->request_method;
  absl::string_view path = request->local_uri != nullptr ? request->local_uri : "";
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    Respond(connection, 405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", false);
    return 405;
  }
  if (path == "/metrics") {
    Respond(connection, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
            self->handlers_.metrics(), head);
    return 200;
  }
  if (path == "/healthz") {
    Respond(connection, 200, "OK", "text/plain", "ok\n", head);
    return 200;
  }
  if (path == "/readyz") {
    absl::Status ready = self->handlers_.ready();
    if (ready.ok()) {
      Respond(connection, 200, "OK", "text/plain", "ready\n", head);
      return 200;
    }
    Respond(connection, 503, "Service Unavailable", "text/plain",
            absl::StrCat("not ready: ", ready.message(), "\n"), head);
    return 503;
  }
  Respond(connection, 404, "Not Found", "text/plain", "not found\n", head);
  return 404;
}

absl::StatusOr<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(const std::string& address,
                                                                    Handlers handlers) {
  absl::Status valid = CheckAddress(address);
  if (!valid.ok()) return valid;
  static std::once_flag library_once;
  std::call_once(library_once, [] { mg_init_library(0); });

  std::unique_ptr<HttpEndpoints> server(new HttpEndpoints(std::move(handlers)));
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.log_message = LogCivetwebMessage;
  const char* options[] = {"listening_ports", address.c_str(),
                           "num_threads", kThreads,
                           "request_timeout_ms", kRequestTimeoutMs,
                           nullptr};
  char error_text[256] = {0};
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text, sizeof(error_text)};
  mg_init_data init{&callbacks, server.get(), options};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("metrics_listen: cannot listen on ", address,
                                               error_text[0] ? absl::StrCat(": ", error_text) : ""));
  }
  // One handler for every path: it answers 404 itself for unknown ones.
  mg_set_request_handler(server->context_, "/", &HttpEndpoints::HandleRequest, server.get());
  mg_server_port port{};
  if (mg_get_server_ports(server->context_, 1, &port) < 1) {
    return absl::InternalError("metrics_listen: the HTTP server reports no port");
  }
  server->address_ = absl::StrCat(address.substr(0, address.rfind(':')), ":", port.port);
  return server;
}

HttpEndpoints::~HttpEndpoints() {
  if (context_ != nullptr) mg_stop(context_);
}

}  // namespace keybroker::server
