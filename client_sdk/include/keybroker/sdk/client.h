// Client: a typed, thread-safe wrapper of the keybroker.v1.KeyBroker stub.
//
// One Client holds one gRPC channel (TLS, mutual TLS, plaintext, or a unix
// socket) to one broker address or, with a "dns:///" or "ipv4:" target, to
// several replicas balanced round_robin. Every call has a deadline; retries
// of UNAVAILABLE go through gRPC's service config. Errors are absl::Status
// with the gRPC code and the broker's machine-readable reason attached
// (keybroker::ReasonOf, common/error_reason.h: KEY_NOT_ACCESSIBLE, ...).
#ifndef KEYBROKER_SDK_CLIENT_H_
#define KEYBROKER_SDK_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "keybroker/sdk/dek_source.h"

namespace keybroker::sdk {

struct ClientOptions {
  // A gRPC target: "host:port", "unix:/path", "dns:///name:port" (every
  // address of the name, round_robin), "ipv4:10.0.0.1:50051,10.0.0.2:50051".
  std::string target;
  // TLS: off unless `tls` or a file below is set.
  bool tls = false;
  std::string ca_file;    // roots to trust instead of the system's
  std::string cert_file;  // client certificate and key: mutual TLS
  std::string key_file;
  std::string server_name_override;  // for tests: the name the certificate has
  absl::Duration timeout = absl::Seconds(5);  // per call
  int max_attempts = 3;                       // gRPC retries of UNAVAILABLE
};

struct KeyDescription {
  std::string key, key_version, algorithm, reason, kms;
  bool accessible = false, quantum_resistant = false, customer_managed = false;
};

class Client : public DekSource {
 public:
  // Creates the channel (lazily connected). INVALID_ARGUMENT for unusable
  // options or unreadable certificate files.
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);
  ~Client() override;

  absl::StatusOr<DataKey> GenerateDek(absl::string_view key_alias,
                                      const Context& context) override;
  absl::StatusOr<crypto::SecretBytes> Unwrap(absl::string_view edek,
                                             const Context& context) override;
  // Wraps caller-supplied key material (1 to 64 bytes); returns the EDEK.
  absl::StatusOr<std::string> Wrap(absl::string_view key_alias,
                                   const crypto::SecretBytes& plaintext, const Context& context);
  // Returns the EDEK re-wrapped under the key's current version.
  absl::StatusOr<std::string> Rewrap(absl::string_view edek, const Context& context);
  // Returns the new current version.
  absl::StatusOr<std::string> Rotate(absl::string_view key_alias);
  absl::StatusOr<KeyDescription> DescribeKey(absl::string_view key_alias);

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_CLIENT_H_
