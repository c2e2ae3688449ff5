#include "server/broker_core.h"

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"

namespace keybroker::server {
namespace {

// Customer-caused states that DescribeKey reports as "not accessible".
bool IsKeyStateReason(const absl::Status& status) {
  std::optional<ErrorReason> reason = ReasonOf(status);
  return reason == ErrorReason::kKeyNotAccessible || reason == ErrorReason::kKeyDisabled ||
         reason == ErrorReason::kKeyNotFound;
}

}  // namespace

absl::StatusOr<GeneratedDek> BrokerCore::GenerateDek(absl::string_view alias,
                                                     const crypto::EncryptionContext& context,
                                                     const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(const BoundKey* key, registry_->Find(alias));
  ASSIGN_OR_RETURN(crypto::SecretBytes dek,
                   key->kms->GenerateDekMaterial(key->key_id, kDekSize, options));
  ASSIGN_OR_RETURN(kms::WrappedKey wrapped, key->kms->Wrap(key->key_id, dek, context, options));
  return GeneratedDek{std::move(dek), std::move(wrapped.edek), std::move(wrapped.key_version)};
}

absl::StatusOr<kms::WrappedKey> BrokerCore::Wrap(absl::string_view alias,
                                                 const crypto::SecretBytes& plaintext,
                                                 const crypto::EncryptionContext& context,
                                                 const kms::CallOptions& options) const {
  if (plaintext.empty() || plaintext.size() > kMaxWrapSize) {
    return InvalidRequest(absl::StrCat("plaintext to wrap must be 1 to ", kMaxWrapSize,
                                       " bytes, not ", plaintext.size()));
  }
  ASSIGN_OR_RETURN(const BoundKey* key, registry_->Find(alias));
  return key->kms->Wrap(key->key_id, plaintext, context, options);
}

absl::StatusOr<BrokerCore::DecodedEdek> BrokerCore::Decode(absl::string_view edek) const {
  ASSIGN_OR_RETURN(crypto::Edek decoded, crypto::DecodeEdek(edek));
  ASSIGN_OR_RETURN(kms::Kms * kms, registry_->KmsFor(decoded.kms));
  return DecodedEdek{std::move(decoded), kms};
}

absl::StatusOr<UnwrappedDek> BrokerCore::Unwrap(absl::string_view edek,
                                                const crypto::EncryptionContext& context,
                                                const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(DecodedEdek decoded, Decode(edek));
  ASSIGN_OR_RETURN(crypto::SecretBytes dek, decoded.kms->Unwrap(decoded.edek, context, options));
  return UnwrappedDek{std::move(dek), std::move(decoded.edek.key_version)};
}

absl::StatusOr<std::string> BrokerCore::Rotate(absl::string_view alias,
                                               const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(const BoundKey* key, registry_->Find(alias));
  return key->kms->Rotate(key->key_id, options);
}

absl::StatusOr<kms::WrappedKey> BrokerCore::Rewrap(absl::string_view edek,
                                                   const crypto::EncryptionContext& context,
                                                   const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(DecodedEdek decoded, Decode(edek));
  ASSIGN_OR_RETURN(std::string key_id, decoded.kms->KeyIdOf(decoded.edek));
  ASSIGN_OR_RETURN(crypto::SecretBytes dek, decoded.kms->Unwrap(decoded.edek, context, options));
  return decoded.kms->Wrap(key_id, dek, context, options);
}

absl::StatusOr<KeyStatus> BrokerCore::DescribeKey(absl::string_view alias,
                                                  const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(const BoundKey* key, registry_->Find(alias));
  absl::StatusOr<kms::KeyDescription> description = key->kms->Describe(key->key_id, options);
  KeyStatus status;
  if (description.ok()) {
    status.accessible = true;
    status.description = *std::move(description);
    return status;
  }
  if (!IsKeyStateReason(description.status())) return description.status();
  status.reason = std::string(ErrorReasonName(*ReasonOf(description.status())));
  return status;
}

}  // namespace keybroker::server
