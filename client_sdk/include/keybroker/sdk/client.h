// Client: a typed wrapper of the keybroker.v1.KeyBroker stub.
//
// One Client holds one gRPC channel (TLS, mutual TLS, plaintext, or a unix
// socket) to one broker address or, with a "dns:///" or "ipv4:" target, to
// several replicas balanced round_robin. Every call has a deadline; retries
// of UNAVAILABLE go through gRPC's service config. Errors are absl::Status
// with the gRPC code and message, the broker's machine-readable reason
// attached (keybroker::ReasonOf in common/error_reason.h, installed as
// "keybroker/common/error_reason.h": KEY_NOT_ACCESSIBLE, ...), and for
// KMS_THROTTLED how long to wait (keybroker::RetryDelayOf). Errors gRPC makes
// itself (UNAVAILABLE when no broker answers, DEADLINE_EXCEEDED) carry no
// reason. keybroker::sdk::ErrorInfoOf (keybroker/sdk/error_info.h) gives the
// google.rpc.ErrorInfo as sent, for tools that show it whatever it says.
//
// Plaintext DEKs are returned in crypto::SecretBytes; the Client wipes its
// own copies in the response messages.
//
// Safe for concurrent use; calls from many threads share the one channel.
#ifndef KEYBROKER_SDK_CLIENT_H_
#define KEYBROKER_SDK_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "keybroker/sdk/dek_source.h"
#include "keybroker/sdk/key_watch.h"

namespace keybroker::sdk {

struct ClientOptions {
  // A gRPC target: "host:port", "unix:/path", "dns:///name:port" (every
  // address of the name, round_robin), "ipv4:10.0.0.1:50051,10.0.0.2:50051".
  std::string target;
  // TLS: off unless `tls` or a file below is set. The files are PEM, read
  // once by Create().
  bool tls = false;
  std::string ca_file;    // roots to trust instead of the system's
  std::string cert_file;  // client certificate and key: mutual TLS
  std::string key_file;
  std::string server_name_override;  // for tests: the name the certificate has
  // Without TLS, only targets on this host (unix sockets, localhost,
  // 127.0.0.0/8, ::1) are allowed: DEKs travel in the responses. Set this to
  // speak plaintext to another host when the network itself is trusted (a
  // service mesh's mutual TLS, for instance).
  bool allow_plaintext = false;
  // Deadline of each call, all of its retry attempts included.
  absl::Duration timeout = absl::Seconds(5);
  // Attempts per call (the first included) while the answer is UNAVAILABLE;
  // clamped to 2..5, the range gRPC accepts.
  int max_attempts = 3;
};

// An EDEK and the key version that wrapped it.
struct WrappedDek {
  std::string edek;
  std::string key_version;
};

// A DEK unwrapped from its EDEK, and the key version the EDEK was wrapped
// under.
struct UnwrappedDek {
  crypto::SecretBytes plaintext;
  std::string key_version;
};

// One version of a key (keybroker.v1.KeyVersionInfo).
struct KeyVersionInfo {
  std::string key_version;
  std::optional<absl::Time> created;    // nullopt: the KMS did not say
  bool enabled = false;                 // the KMS unwraps under it now
  // When last used on the broker that answered; nullopt: not since it started.
  std::optional<absl::Time> last_used;
  bool listed = false;                  // the KMS listed it (else known only from use)
};

struct KeyDescription {
  std::string key, key_version, algorithm, reason, kms;
  bool accessible = false, quantum_resistant = false, customer_managed = false;
  std::vector<KeyVersionInfo> versions;  // oldest first
};

class Client : public DekSource {
 public:
  // Creates the channel (connected lazily, by the first call). INVALID_ARGUMENT
  // naming the option for an empty target, a timeout that is not positive,
  // an unreadable certificate file, only one of cert_file and key_file,
  // server_name_override without TLS, or plaintext to another host without
  // allow_plaintext (IsPlaintextRefused tells that one apart). Nothing is
  // connected when Create fails.
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);
  ~Client() override;

  // See DekSource. NOT_FOUND (KEY_NOT_FOUND) for an unknown alias.
  absl::StatusOr<DataKey> GenerateDek(absl::string_view key_alias,
                                      const Context& context) override;
  // See DekSource. INVALID_ARGUMENT (EDEK_INVALID) for a malformed or tampered
  // EDEK or another context.
  absl::StatusOr<crypto::SecretBytes> Unwrap(absl::string_view edek,
                                             const Context& context) override;
  // Unwrap, also returning the key version the EDEK was wrapped under.
  absl::StatusOr<UnwrappedDek> UnwrapWithVersion(absl::string_view edek, const Context& context);
  // Wraps caller-supplied key material (1 to 64 bytes; INVALID_ARGUMENT,
  // INVALID_REQUEST otherwise) under the current version of `key_alias`;
  // returns the EDEK.
  absl::StatusOr<std::string> Wrap(absl::string_view key_alias,
                                   const crypto::SecretBytes& plaintext, const Context& context);
  // Wrap, also returning the key version it wrapped under.
  absl::StatusOr<WrappedDek> WrapWithVersion(absl::string_view key_alias,
                                             const crypto::SecretBytes& plaintext,
                                             const Context& context);
  // Returns the EDEK re-wrapped under its key's current version; the DEK
  // never leaves the broker.
  absl::StatusOr<std::string> Rewrap(absl::string_view edek, const Context& context);
  // Rewrap, also returning that current version.
  absl::StatusOr<WrappedDek> RewrapWithVersion(absl::string_view edek, const Context& context);
  // Makes a new version of `key_alias` current and returns it.
  // FAILED_PRECONDITION (KEYRING_READ_ONLY) on a read-only keyring.
  absl::StatusOr<std::string> Rotate(absl::string_view key_alias);
  // Describes the key. An inaccessible key is an OK answer with
  // accessible == false and `reason` set.
  absl::StatusOr<KeyDescription> DescribeKey(absl::string_view key_alias);

  // See DekSource: the WatchKeys stream, read on a thread of the watch's own
  // and reopened after errors with backoff (100 ms doubling to 10 s, with
  // jitter) until the KeyWatch is destroyed; each reconnection brings the
  // state of every watched key again (initial events). A broker without
  // WatchKeys (UNIMPLEMENTED) stops the watch: KeyWatch::stopped() and
  // status() tell. Never null. The KeyWatch may outlive this Client. An
  // alias the caller may not describe fails the stream (PERMISSION_DENIED),
  // which is retried like any error: authorization may change. The Client's
  // channel sends HTTP/2 keepalive pings while a call is open (after 30 s
  // without traffic, 10 s for the answer), so a connection that dies without
  // a word ends the stream within about 40 s and the watch reconnects.
  std::unique_ptr<KeyWatch> WatchKeys(const std::vector<std::string>& keys,
                                      KeyEventCallback on_event) override;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether `status`, an error of Client::Create, is its refusal to speak
// plaintext to another host: the fix is TLS, or allow_plaintext on a trusted
// network. Lets a program that fills ClientOptions from its own settings
// name those settings in its message.
bool IsPlaintextRefused(const absl::Status& status);

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_CLIENT_H_
