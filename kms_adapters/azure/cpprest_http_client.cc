#include "kms_adapters/azure/cpprest_http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "boost/asio/ssl.hpp"
#include "common/status_macros.h"
#include "cpprest/http_client.h"
#include "kms_adapters/azure/url.h"

namespace keybroker::kms::azure {
namespace {

namespace http = web::http;

// The result of one request, handed from cpprest's thread to the waiting Send.
// Shared, because Send may give up and return before cpprest finishes.
class Outcome {
 public:
  // Records `result` unless one was recorded already.
  void Finish(absl::StatusOr<HttpResponse> result) {
    if (finished_.exchange(true)) return;
    result_ = std::move(result);
    done_.Notify();
  }

  // Waits until Finish or `deadline`; returns whether Finish came first.
  bool WaitUntil(absl::Time deadline) { return done_.WaitForNotificationWithDeadline(deadline); }

  // The recorded result. Only after WaitUntil returned true.
  absl::StatusOr<HttpResponse> Take() { return std::move(result_); }

 private:
  std::atomic<bool> finished_{false};
  absl::Notification done_;
  absl::StatusOr<HttpResponse> result_;  // written once, before done_.Notify()
};

// Names the exception being handled. cpprest's messages ("Error in SSL
// handshake", "Failed to connect to any resolved endpoint") describe the
// failure, never the request's headers or body.
std::string CurrentExceptionText() {
  try {
    throw;
  } catch (const pplx::task_canceled&) {
    return "request cancelled";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

absl::Status TransportError(const std::string& host, absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("http request to ", host, " failed: ", what));
}

// cpprest adds "Host: host:443" when the base URI spells out the default
// port; leave it out so the Host header is the plain host name.
web::uri BaseUri(const Url& url) {
  bool default_port =
      (url.scheme == "https" && url.port == 443) || (url.scheme == "http" && url.port == 80);
  std::string base = absl::StrCat(url.scheme, "://", url.host);
  if (!default_port) absl::StrAppend(&base, ":", url.port);
  return web::uri(base);
}

// INVALID_ARGUMENT when cpprest rejects the path or query (say, an
// unencoded space): a caller's bug, not worth a retry.
absl::StatusOr<http::http_request> BuildRequest(const HttpRequest& request, const Url& url) {
  http::http_request message(request.method);
  try {
    message.set_request_uri(web::uri(url.path_and_query));
  } catch (const web::uri_exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat("url path or query for ", url.host, " is not validly encoded"));
  }
  for (const auto& [name, value] : request.headers) message.headers().add(name, value);
  // set_body keeps a Content-Type the caller set and sets Content-Length.
  if (!request.body.empty()) message.set_body(request.body, "application/octet-stream");
  return message;
}

HttpResponse ToHttpResponse(const http::http_response& response,
                            const std::vector<unsigned char>& body) {
  HttpResponse out;
  out.status = response.status_code();
  for (const auto& [name, value] : response.headers()) out.headers.emplace_back(name, value);
  out.body.assign(body.begin(), body.end());
  return out;
}

// Sends `message` on cpprest's threads; `outcome` gets the response, with
// its whole body, or the failure. Throws if cpprest refuses to start.
void Start(http::client::http_client& client, http::http_request message,
           const pplx::cancellation_token& token, const std::string& host,
           std::shared_ptr<Outcome> outcome) {
  client.request(std::move(message), token)
      .then([](http::http_response response) {
        return response.extract_vector().then(
            [response](std::vector<unsigned char> body) { return ToHttpResponse(response, body); });
      })
      .then([outcome = std::move(outcome), host](pplx::task<HttpResponse> task) {
        // Observing every exception here also keeps pplx from terminating the
        // process over an unobserved one.
        try {
          outcome->Finish(task.get());
        } catch (...) {
          outcome->Finish(TransportError(host, CurrentExceptionText()));
        }
      });
}

http::client::http_client_config ConfigFor(const TlsTrust& trust, absl::Duration timeout) {
  http::client::http_client_config config;
  // A backstop only: cpprest's timeout restarts at each stage of a request;
  // Send enforces the real bound.
  config.set_timeout(absl::ToChronoMilliseconds(timeout));
  config.set_validate_certificates(!trust.insecure_skip_verify);
  if (!trust.ca_file.empty()) {
    config.set_ssl_context_callback([ca_file = trust.ca_file](boost::asio::ssl::context& context) {
      // cpprest has already loaded the system roots into this context; a
      // configured bundle must be the only trust, so start from an empty store.
      X509_STORE* store = X509_STORE_new();
      if (store == nullptr) throw std::runtime_error("cannot allocate an X509 store");
      SSL_CTX_set_cert_store(context.native_handle(), store);
      context.load_verify_file(ca_file);  // re-read per connection: follows CA rotation
    });
  }
  return config;
}

absl::Status CheckCaFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read TLS CA file ", path, ": ", std::strerror(errno)));
  }
  std::fclose(file);
  try {
    boost::asio::ssl::context context(boost::asio::ssl::context::sslv23);
    context.load_verify_file(path);
  } catch (const std::exception&) {
    return absl::FailedPreconditionError(
        absl::StrCat("TLS CA file ", path, " holds no PEM certificate"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CpprestHttpClient>> CpprestHttpClient::Create(
    TlsTrust trust, absl::Duration request_timeout) {
  if (request_timeout <= absl::ZeroDuration() || request_timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("http request timeout must be positive and finite");
  }
  if (!trust.ca_file.empty()) RETURN_IF_ERROR(CheckCaFile(trust.ca_file));
  return std::unique_ptr<CpprestHttpClient>(
      new CpprestHttpClient(std::move(trust), request_timeout));
}

CpprestHttpClient::CpprestHttpClient(TlsTrust trust, absl::Duration request_timeout)
    : trust_(std::move(trust)), request_timeout_(request_timeout) {}

// Requests still running (after Send gave up on them) hold their own
// references to cpprest's client internals, so nothing waits here.
CpprestHttpClient::~CpprestHttpClient() = default;

std::shared_ptr<http::client::http_client> CpprestHttpClient::ClientFor(const Url& url) {
  std::string origin = url.Origin();
  absl::MutexLock lock(&mu_);
  auto it = clients_.find(origin);
  if (it != clients_.end()) return it->second;
  auto client = std::make_shared<http::client::http_client>(BaseUri(url),
                                                            ConfigFor(trust_, request_timeout_));
  clients_.emplace(std::move(origin), client);
  return client;
}

absl::StatusOr<HttpResponse> CpprestHttpClient::Send(const HttpRequest& request,
                                                     absl::Time deadline) {
  ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  absl::Time now = absl::Now();
  if (now >= deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed before the http request to ", url.host));
  }
  bool caller_deadline_first = deadline <= now + request_timeout_;
  auto outcome = std::make_shared<Outcome>();
  pplx::cancellation_token_source cancel;
  ASSIGN_OR_RETURN(http::http_request message, BuildRequest(request, url));
  try {
    Start(*ClientFor(url), std::move(message), cancel.get_token(), url.host, outcome);
  } catch (...) {
    outcome->Finish(TransportError(url.host, CurrentExceptionText()));
  }
  if (outcome->WaitUntil(std::min(deadline, now + request_timeout_))) return outcome->Take();
  // Closes the connection; the continuation above still runs and is ignored.
  cancel.cancel();
  if (caller_deadline_first) {
    return absl::DeadlineExceededError(absl::StrCat("deadline exceeded waiting for ", url.host));
  }
  return TransportError(
      url.host, absl::StrCat("no response within ", absl::FormatDuration(request_timeout_)));
}

}  // namespace keybroker::kms::azure
