// Kms: what every key management system behind the broker implements.
//
// A Kms holds key encryption keys (KEKs) and wraps and unwraps DEKs with them.
// Keys are named by a `key_id` that is specific to the KMS (a local keyring
// key name; an Azure key identifier URL) and come from the broker's
// configuration. EDEKs are self-describing (crypto/edek.h): Unwrap takes the
// decoded EDEK, and each Kms checks that the key it names is one it was
// configured with before doing anything else, so a crafted EDEK cannot make it
// touch any other key or host.
//
// Errors carry a reason (common/error_reason.h): KEY_NOT_FOUND,
// KEY_NOT_ACCESSIBLE, KEY_DISABLED, EDEK_INVALID, KMS_THROTTLED,
// KMS_UNAVAILABLE, KEYRING_READ_ONLY, INTERNAL.
//
// Implementations are safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_KMS_H_
#define KEYBROKER_KMS_ADAPTERS_KMS_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/edek.h"
#include "crypto/encryption_context.h"
#include "crypto/secret_bytes.h"

namespace keybroker::kms {

// Per-call limits: a remote KMS must give up by `deadline` (the caller's gRPC
// deadline) rather than hold the caller past it, and should stop retrying and
// waiting, with CANCELLED, once `cancelled` returns true (the caller cancelled
// the gRPC call or went away). `cancelled` is empty (never) or cheap and
// thread-safe: it is polled while waiting.
//
// With `local_only`, the call must neither call a remote service nor wait for
// another call that does: what it cannot do with what is at hand (a cached
// public key, say) it refuses at once, before any other effect, with
// WouldBlock(). The broker tries calls that way on gRPC's callback threads
// (which must not block) and hands only the refused ones to a thread that may
// block.
struct CallOptions {
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;
  bool local_only = false;
};

// The refusal of a `local_only` call that would have blocked; and whether
// `status` is one. Never reaches a caller of the broker.
absl::Status WouldBlock();
bool IsWouldBlock(const absl::Status& status);

// What DescribeKey reports for an accessible key.
struct KeyDescription {
  std::string key_version;  // current version
  std::string algorithm;    // "AES-256-GCM" or "RSA-OAEP-256"
  std::string kms;          // "local", "azure_key_vault" or "azure_managed_hsm"
  bool quantum_resistant = false;
  bool customer_managed = false;
};

// One version of a key, as its KMS lists it.
struct KeyVersionInfo {
  std::string version;
  std::optional<absl::Time> created;  // when the KMS does not say: nullopt
  // Whether the KMS would unwrap under it now (false: disabled, expired, not
  // yet valid, or below the key's min_decryption_version).
  bool enabled = false;
};

// A wrapped DEK and the key version that wrapped it.
struct WrappedKey {
  std::string edek;  // encoded (crypto::EncodeEdek)
  std::string key_version;
};

class Kms {
 public:
  virtual ~Kms() = default;

  // The EDEK KMS kind this implementation reads and writes.
  virtual crypto::EdekKms kind() const = 0;

  // Whether operations may wait on a remote service (and so are worth
  // caching, and must not run on a thread that serves other calls).
  virtual bool calls_remote_service() const { return false; }

  // Returns the current state of `key_id`; an error if it is not usable now.
  virtual absl::StatusOr<KeyDescription> Describe(absl::string_view key_id,
                                                  const CallOptions& options) = 0;

  // Returns `size` fresh random bytes for a new DEK under `key_id` (a KMS may
  // draw them from its HSM).
  virtual absl::StatusOr<crypto::SecretBytes> GenerateDekMaterial(absl::string_view key_id,
                                                                 size_t size,
                                                                 const CallOptions& options) = 0;

  // Wraps `dek` under the current version of `key_id`, binding `context`.
  virtual absl::StatusOr<WrappedKey> Wrap(absl::string_view key_id, const crypto::SecretBytes& dek,
                                          const crypto::EncryptionContext& context,
                                          const CallOptions& options) = 0;

  // Unwraps `edek` (of this KMS's kind), which must have been made under
  // exactly `context`. EDEK_INVALID when it does not authenticate or names a
  // key this KMS was not configured with.
  virtual absl::StatusOr<crypto::SecretBytes> Unwrap(const crypto::Edek& edek,
                                                     const crypto::EncryptionContext& context,
                                                     const CallOptions& options) = 0;

  // Returns the key_id of the configured key that `edek` names, without any
  // remote call; EDEK_INVALID if it names no configured key.
  virtual absl::StatusOr<std::string> KeyIdOf(const crypto::Edek& edek) = 0;

  // The key_id of a key named by `uri` at run time (a customer key URI),
  // without any remote call and without keeping anything: the calls above
  // then accept it, adding the key on first use. KEY_NOT_FOUND when this
  // KMS takes no such keys or none of its key sources covers the URI.
  virtual absl::StatusOr<std::string> KeyIdForUri(absl::string_view uri) const;

  // Makes a new version of `key_id` current and returns it.
  virtual absl::StatusOr<std::string> Rotate(absl::string_view key_id,
                                             const CallOptions& options) = 0;

  // Returns the versions of `key_id` the KMS holds, in no particular order
  // (a KMS may stop at a bound of its own). UNIMPLEMENTED when it cannot
  // list them.
  virtual absl::StatusOr<std::vector<KeyVersionInfo>> ListVersions(absl::string_view key_id,
                                                                   const CallOptions& options) {
    return absl::UnimplementedError("this kms does not list key versions");
  }

  // The key name that EDEKs made under `key_id` carry (crypto::Edek::key_name):
  // what a client matches its cached EDEKs against when the key is revoked.
  virtual absl::StatusOr<std::string> EdekKeyNameOf(absl::string_view key_id) const {
    return std::string(key_id);
  }

  // For the broker's access probe (server/key_prober.h), of a KMS that calls
  // a remote service: the keys used (by any call above) within `window`,
  // and a request about `key_id` made now, past every cache, whose refusal
  // drops what is cached of the key. Its outcome reaches the observer's
  // KeyRequestDone like any request's. A probe is not a use.
  virtual std::vector<std::string> KeysUsedWithin(absl::Duration window) const { return {}; }
  virtual absl::Status Probe(absl::string_view key_id, const CallOptions& options) {
    return absl::OkStatus();
  }
};

}  // namespace keybroker::kms

#endif  // KEYBROKER_KMS_ADAPTERS_KMS_H_
