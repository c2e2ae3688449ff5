// EdekAuthenticator: proof that an RSA EDEK was made by this broker
// (`edek_authentication` in the configuration).
//
// An RSA-OAEP EDEK is the DEK encrypted under the customer's public key, and
// a public key is public: anyone holding it can mint an EDEK that Key Vault
// will unwrap, and every forged EDEK costs a Key Vault call. With
// authentication on, the broker tags each RSA EDEK it makes with
// HMAC-SHA-256 under a key derived from a local keyring key (purpose
// "keybroker edek authentication v1"), and Unwrap and Rewrap check the tag
// before any Key Vault call. The tag goes in the EDEK's tag field and the
// local key's version in its IV field, both empty in an RSA EDEK without
// authentication (docs/edek-format.md), so the format version is unchanged.
// The MAC covers the whole EDEK but the tag itself, then the canonical
// encryption context.
//
// AES-GCM EDEKs (local keyring, Managed HSM) carry their own authentication
// and are left alone. Thread-safe.
#ifndef KEYBROKER_SERVER_EDEK_AUTHENTICATOR_H_
#define KEYBROKER_SERVER_EDEK_AUTHENTICATOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/edek.h"
#include "crypto/encryption_context.h"
#include "kms_adapters/local/local_kms.h"

namespace keybroker::server {

class EdekAuthenticator {
 public:
  // `local` must outlive this; `key_id` is the local key whose versions
  // derive the MAC keys. `accept_unauthenticated` lets RSA EDEKs without a
  // tag through (while EDEKs made before authentication was turned on are
  // rewrapped); a tag that is there must always verify.
  EdekAuthenticator(kms::LocalKms* local, std::string key_id, bool accept_unauthenticated)
      : local_(local), key_id_(std::move(key_id)),
        accept_unauthenticated_(accept_unauthenticated) {}

  // Whether `edek` is of the kind this authenticates.
  static bool Applies(const crypto::Edek& edek) {
    return edek.algorithm == crypto::EdekAlgorithm::kRsaOaep256;
  }

  // Returns the encoded `edek` (RSA, untagged) with its tag, under the
  // current version of the local key.
  absl::StatusOr<std::string> Seal(crypto::Edek edek,
                                   const crypto::EncryptionContext& context) const;

  // OK when `edek` is not RSA, or its tag verifies under `context` (or it
  // has none and untagged EDEKs are accepted); KEY_VERSION_NOT_YET_LOADED
  // when its tag names a version of the local key that a keyring rollout has
  // not brought to this replica yet (LocalKms::DerivePurposeKey);
  // EDEK_INVALID otherwise.
  absl::Status Check(const crypto::Edek& edek, const crypto::EncryptionContext& context) const;

 private:
  absl::StatusOr<std::string> Tag(const crypto::Edek& edek, absl::string_view version,
                                  const crypto::EncryptionContext& context,
                                  std::string* used_version) const;

  kms::LocalKms* local_;  // thread-safe: DerivePurposeKey may reload its keyring
  const std::string key_id_;
  const bool accept_unauthenticated_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_EDEK_AUTHENTICATOR_H_
