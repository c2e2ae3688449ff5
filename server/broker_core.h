// BrokerCore: the broker's operations, free of gRPC. Each validates its
// request, resolves the key through the KeyRegistry, and calls the KMS.
// Errors carry a reason (common/error_reason.h); server/grpc_status.h turns
// them into gRPC statuses at the edge.
//
// Every call taking a key takes an alias or a key URI a key source covers
// (KeyRegistry::Resolve).
//
// Safe for concurrent use (the registry is read-only, the KMSs thread-safe).
#ifndef KEYBROKER_SERVER_BROKER_CORE_H_
#define KEYBROKER_SERVER_BROKER_CORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/encryption_context.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/kms.h"
#include "kms_adapters/kms_observer.h"
#include "server/edek_authenticator.h"
#include "server/key_registry.h"
#include "server/key_version_inventory.h"
#include "server/key_versions.h"
#include "server/unwrap_cache.h"

namespace keybroker::server {

struct GeneratedDek {
  crypto::SecretBytes plaintext;
  std::string edek;
  std::string key_version;
};

struct UnwrappedDek {
  crypto::SecretBytes plaintext;
  std::string key_version;
};

// DescribeKey's answer: an inaccessible key is an answer, not an error.
struct KeyStatus {
  bool accessible = false;
  kms::KeyDescription description;
  std::string reason;  // when not accessible
};

class BrokerCore {
 public:
  static constexpr size_t kDekSize = 32;
  static constexpr size_t kMaxWrapSize = 64;

  // `registry` (and `unwrap_cache` and `observer`, if given) must outlive
  // the core. The cache serves Unwrap and Rewrap for KMSs that call a remote
  // service; the observer hears of its hits and misses ("unwrap").
  // With an `authenticator` (edek_authentication), RSA EDEKs are tagged when
  // made and checked before any unwrap. With an `inventory` (which must
  // outlive the core), every version an EDEK is made or unwrapped under is
  // recorded there with the time.
  explicit BrokerCore(const KeyRegistry* registry, UnwrapCache* unwrap_cache = nullptr,
                      kms::KmsObserver* observer = kms::NoKmsObserver(),
                      const EdekAuthenticator* authenticator = nullptr,
                      KeyVersionInventory* inventory = nullptr)
      : registry_(registry), unwrap_cache_(unwrap_cache), observer_(observer),
        authenticator_(authenticator), inventory_(inventory) {}

  // Whether a call on `alias`, or on `edek`, may wait on a remote KMS (the
  // service then runs it off gRPC's callback threads). False for anything
  // that fails fast (unknown alias, malformed EDEK).
  bool MayBlock(absl::string_view alias) const;

  const KeyRegistry& registry() const { return *registry_; }
  bool MayBlockOnEdek(absl::string_view edek) const;

  // The alias bound to the key `edek` names (for a key named at run time,
  // its KeyRegistry::KeyUriName), and the version it names, for audit lines
  // and authorization; empty when the EDEK is malformed (the alias also when
  // it names no known key). No remote call.
  struct EdekKey {
    bool decoded = false;  // the EDEK is well-formed and its KMS configured
    std::string alias;     // "" when no alias binds the key it names
    std::string version;
  };
  EdekKey KeyOfEdek(absl::string_view edek) const;

  absl::StatusOr<GeneratedDek> GenerateDek(absl::string_view alias,
                                           const crypto::EncryptionContext& context,
                                           const kms::CallOptions& options) const;
  // INVALID_REQUEST unless `plaintext` is 1..kMaxWrapSize bytes.
  absl::StatusOr<kms::WrappedKey> Wrap(absl::string_view alias,
                                       const crypto::SecretBytes& plaintext,
                                       const crypto::EncryptionContext& context,
                                       const kms::CallOptions& options) const;
  absl::StatusOr<UnwrappedDek> Unwrap(absl::string_view edek,
                                      const crypto::EncryptionContext& context,
                                      const kms::CallOptions& options) const;
  absl::StatusOr<std::string> Rotate(absl::string_view alias,
                                     const kms::CallOptions& options) const;
  // Unwraps and wraps again under the current version of the same key.
  absl::StatusOr<kms::WrappedKey> Rewrap(absl::string_view edek,
                                         const crypto::EncryptionContext& context,
                                         const kms::CallOptions& options) const;
  // KEY_NOT_FOUND for an unknown alias; KMS faults (throttling,
  // unavailability) are errors; customer-caused states are answers.
  absl::StatusOr<KeyStatus> DescribeKey(absl::string_view alias,
                                        const kms::CallOptions& options) const;
  // The key's versions (key_versions.h): those its KMS lists, when
  // `ask_kms` (a remote KMS is asked; its refusal leaves only the versions
  // in use), and those the inventory saw in use. KEY_NOT_FOUND for an
  // unknown alias.
  absl::StatusOr<std::vector<KeyVersionStatus>> KeyVersions(absl::string_view alias, bool ask_kms,
                                                            const kms::CallOptions& options) const;

 private:
  struct DecodedEdek {
    crypto::Edek edek;
    kms::Kms* kms;
  };
  absl::StatusOr<DecodedEdek> Decode(absl::string_view edek) const;
  // Decode, and the authentication check (EDEK_INVALID before any KMS call).
  absl::StatusOr<DecodedEdek> DecodeAndCheck(absl::string_view edek,
                                             const crypto::EncryptionContext& context) const;
  // `wrapped` with its authentication tag, when it needs one.
  absl::StatusOr<kms::WrappedKey> Authenticated(kms::WrappedKey wrapped,
                                                const crypto::EncryptionContext& context) const;
  // Unwraps through the unwrap cache when the KMS is remote.
  absl::StatusOr<UnwrappedDek> UnwrapDecoded(absl::string_view edek_bytes,
                                             const DecodedEdek& decoded,
                                             const crypto::EncryptionContext& context,
                                             const kms::CallOptions& options) const;
  // Records a use of `version` of the key `key` resolved to, or of the key
  // `edek` names.
  void RecordUse(const BoundKey& key, absl::string_view version) const;
  void RecordUse(const crypto::Edek& edek, absl::string_view version) const;

  const KeyRegistry* registry_;
  UnwrapCache* unwrap_cache_;
  kms::KmsObserver* observer_;
  const EdekAuthenticator* authenticator_;
  KeyVersionInventory* inventory_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_BROKER_CORE_H_
