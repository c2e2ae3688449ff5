// ResourceProtector: encrypts FHIR resources (JSON) for storage, per account,
// with an sdk::Encryptor, and binds each blob to where it belongs.
//
// Protect(account, resource) seals the JSON under the account's key alias
// (from the caller's KeyAliasResolver: the account -> key mapping recorded at
// provisioning, e.g. the service-managed alias or the customer's own key),
// with the AAD of resource_identity.h: account, resourceType, id and
// meta.versionId, length-prefixed. Unprotect(account, type, id, version,
// blob) opens it only under the same four values, so a blob copied to
// another account, resource or version fails instead of being served.
// The blob is the SDK ciphertext (docs/ciphertext-format.md); it names the
// key version that wrapped its DEK, so Unprotect needs no alias and rotated
// keys keep decrypting older blobs.
//
// Errors are absl::Status with the broker's reason kept; render them for a
// FHIR client with FhirError::FromStatus (403 OperationOutcome for
// KEY_NOT_ACCESSIBLE). Safe for concurrent use when the resolver is.
#ifndef KEYBROKER_SDK_FHIR_RESOURCE_PROTECTOR_H_
#define KEYBROKER_SDK_FHIR_RESOURCE_PROTECTOR_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keybroker/sdk/ciphertext_info.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/fhir/resource_identity.h"

namespace keybroker::sdk::fhir {

// Returns the key alias of `account`; an error (NOT_FOUND for an unknown
// account, ...) is passed through by Protect.
using KeyAliasResolver = std::function<absl::StatusOr<std::string>(absl::string_view account)>;

// A protected resource: where to store it and the blob to store.
struct ProtectedResource {
  ResourceIdentity identity;
  std::string blob;
};

class ResourceProtector {
 public:
  // `encryptor` must outlive the protector. INVALID_ARGUMENT (INVALID_REQUEST)
  // for a null encryptor or an empty resolver. Does no I/O.
  static absl::StatusOr<std::unique_ptr<ResourceProtector>> Create(Encryptor* encryptor,
                                                                   KeyAliasResolver resolver);

  // Returns the identity read from `resource_json` and the blob to store.
  // INVALID_ARGUMENT (INVALID_REQUEST) for an empty account or a resource
  // IdentityOf() rejects; the resolver's error; the Encryptor's error
  // (PERMISSION_DENIED / KEY_NOT_ACCESSIBLE when the customer removed access).
  absl::StatusOr<ProtectedResource> Protect(absl::string_view account,
                                            absl::string_view resource_json) const;

  // Returns the resource JSON stored in `blob` for this exact account and
  // resource version. INVALID_ARGUMENT (EDEK_INVALID) when the blob was
  // tampered with or belongs to another account/type/id/version;
  // INVALID_ARGUMENT (INVALID_REQUEST) for an empty argument; the broker's
  // Unwrap errors (KEY_NOT_ACCESSIBLE, ...) as they are.
  absl::StatusOr<std::string> Unprotect(absl::string_view account, absl::string_view resource_type,
                                        absl::string_view id, absl::string_view version_id,
                                        absl::string_view blob) const;

  // Re-seals `blob`, stored for this account and resource version, under the
  // DEK the Encryptor encrypts the account's key with now: opens it as
  // Unprotect does and seals the same JSON again with the same AAD. This is
  // how a stored record moves to a key's current version (after a rotation,
  // so that the old version can be retired): rewrapping only the EDEK would
  // not do, because the ciphertext's header, EDEK included, is authenticated.
  // The Encryptor's DEKs made before a rotation serve until they age out
  // (EncryptorOptions::max_dek_age); a fresh Encryptor uses the current
  // version. Errors: Unprotect's, then Protect's.
  absl::StatusOr<std::string> Reseal(absl::string_view account, const ResourceIdentity& identity,
                                     absl::string_view blob) const;

  // The key, and its version, that Protect and Reseal seal `account`'s
  // resources under now: that of the DEK the Encryptor holds for the
  // account's key (found by sealing an empty probe; no broker call once the
  // Encryptor has a DEK). Errors: the resolver's, then Protect's.
  absl::StatusOr<CiphertextKeyInfo> SealingKey(absl::string_view account) const;

 private:
  ResourceProtector(Encryptor* encryptor, KeyAliasResolver resolver)
      : encryptor_(encryptor), resolver_(std::move(resolver)) {}

  // Set at construction.
  Encryptor* const encryptor_;
  const KeyAliasResolver resolver_;
};

}  // namespace keybroker::sdk::fhir

#endif  // KEYBROKER_SDK_FHIR_RESOURCE_PROTECTOR_H_
