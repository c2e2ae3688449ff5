#include "keybroker/sdk/fhir/resource_protector.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"

namespace keybroker::sdk::fhir {

absl::StatusOr<std::unique_ptr<ResourceProtector>> ResourceProtector::Create(
    Encryptor* encryptor, KeyAliasResolver resolver) {
  if (encryptor == nullptr) return InvalidRequest("fhir: encryptor is null");
  if (!resolver) return InvalidRequest("fhir: key alias resolver is empty");
  return std::unique_ptr<ResourceProtector>(new ResourceProtector(encryptor, std::move(resolver)));
}

absl::StatusOr<ProtectedResource> ResourceProtector::Protect(
    absl::string_view account, absl::string_view resource_json) const {
  if (account.empty()) return InvalidRequest("account is empty");
  ProtectedResource out;
  ASSIGN_OR_RETURN(out.identity, IdentityOf(resource_json));
  ASSIGN_OR_RETURN(std::string alias, resolver_(account));
  absl::StatusOr<std::string> blob =
      encryptor_->Encrypt(alias, resource_json, ResourceAad(account, out.identity));
  if (!blob.ok()) {
    return Annotate(blob.status(), absl::StrCat("protecting ", out.identity.resource_type, "/",
                                                out.identity.id, " of account ", account));
  }
  out.blob = *std::move(blob);
  return out;
}

absl::StatusOr<std::string> ResourceProtector::Unprotect(absl::string_view account,
                                                         absl::string_view resource_type,
                                                         absl::string_view id,
                                                         absl::string_view version_id,
                                                         absl::string_view blob) const {
  if (account.empty() || resource_type.empty() || id.empty() || version_id.empty()) {
    return InvalidRequest("account, resource type, id and version id must not be empty");
  }
  const ResourceIdentity identity{std::string(resource_type), std::string(id),
                                  std::string(version_id)};
  absl::StatusOr<std::string> json = encryptor_->Decrypt(blob, ResourceAad(account, identity));
  if (!json.ok()) {
    return Annotate(json.status(), absl::StrCat("unprotecting ", resource_type, "/", id,
                                                " version ", version_id, " of account ", account));
  }
  // The AAD already proves where the blob belongs; a mismatch here means the
  // writer sealed a resource under another identity than its own, a bug.
  absl::StatusOr<ResourceIdentity> inside = IdentityOf(*json);
  if (!inside.ok() || !(*inside == identity)) {
    return Internal(
        absl::StrCat("stored ", resource_type, "/", id, " does not carry its own identity"));
  }
  return json;
}

absl::StatusOr<std::string> ResourceProtector::Reseal(absl::string_view account,
                                                      const ResourceIdentity& identity,
                                                      absl::string_view blob) const {
  // The alias first: no plaintext exists yet if the account cannot be resolved.
  ASSIGN_OR_RETURN(std::string alias, resolver_(account));
  ASSIGN_OR_RETURN(std::string json, Unprotect(account, identity.resource_type, identity.id,
                                               identity.version_id, blob));
  absl::StatusOr<std::string> resealed =
      encryptor_->Encrypt(alias, json, ResourceAad(account, identity));
  // Wipe this copy of the plaintext (a patient's record); the JSON parse
  // inside Unprotect does not wipe its own.
  OPENSSL_cleanse(json.data(), json.size());
  if (!resealed.ok()) {
    return Annotate(resealed.status(), absl::StrCat("re-sealing ", identity.resource_type, "/",
                                                    identity.id, " version ", identity.version_id,
                                                    " of account ", account));
  }
  return resealed;
}

absl::StatusOr<CiphertextKeyInfo> ResourceProtector::SealingKey(absl::string_view account) const {
  ASSIGN_OR_RETURN(std::string alias, resolver_(account));
  ASSIGN_OR_RETURN(std::string probe, encryptor_->Encrypt(alias, "", "keybroker-fhir-probe"));
  return InspectCiphertext(probe);
}

}  // namespace keybroker::sdk::fhir
