// TinyHttpsServer: tiny_https_server.py (Python's standard library) started as
// a child process on 127.0.0.1 and a port the kernel picks, so that the real
// cpprestsdk transport can be tested over real TLS without any network.
//
// The child exits when the pipe on its stdin closes, so it cannot outlive the
// test even if the test crashes. Not thread-safe (start and stop it from the
// test's thread; requests to it may come from any thread).
#ifndef KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_TINY_HTTPS_SERVER_H_
#define KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_TINY_HTTPS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::testing {

class TinyHttpsServer {
 public:
  // Starts the server with `cert_file` (leaf first) and `key_file`; waits up
  // to 20 s for it to print its port. UNAVAILABLE if it does not.
  static absl::StatusOr<std::unique_ptr<TinyHttpsServer>> Start(const std::string& cert_file,
                                                                const std::string& key_file);

  // Stops the child and waits for it.
  ~TinyHttpsServer();

  TinyHttpsServer(const TinyHttpsServer&) = delete;
  TinyHttpsServer& operator=(const TinyHttpsServer&) = delete;

  int port() const { return port_; }

  // Returns "https://<host>:<port><path_and_query>"; host 127.0.0.1 unless
  // given (e.g. "localhost").
  std::string Url(absl::string_view path_and_query, absl::string_view host = "127.0.0.1") const;

 private:
  TinyHttpsServer() = default;

  pid_t pid_ = -1;
  int stdin_fd_ = -1;  // our end of the child's stdin
  int port_ = 0;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_TINY_HTTPS_SERVER_H_
