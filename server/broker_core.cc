#include "server/broker_core.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/error_reason.h"
#include "common/monotonic_time.h"
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
  ASSIGN_OR_RETURN(const BoundKey key, registry_->Resolve(alias));
  ASSIGN_OR_RETURN(crypto::SecretBytes dek,
                   key.kms->GenerateDekMaterial(key.key_id, kDekSize, options));
  ASSIGN_OR_RETURN(kms::WrappedKey wrapped, key.kms->Wrap(key.key_id, dek, context, options));
  ASSIGN_OR_RETURN(wrapped, Authenticated(std::move(wrapped), context));
  RecordUse(key, wrapped.key_version);
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
  ASSIGN_OR_RETURN(const BoundKey key, registry_->Resolve(alias));
  ASSIGN_OR_RETURN(kms::WrappedKey wrapped, key.kms->Wrap(key.key_id, plaintext, context, options));
  ASSIGN_OR_RETURN(wrapped, Authenticated(std::move(wrapped), context));
  RecordUse(key, wrapped.key_version);
  return wrapped;
}

absl::StatusOr<kms::WrappedKey> BrokerCore::Authenticated(
    kms::WrappedKey wrapped, const crypto::EncryptionContext& context) const {
  if (authenticator_ == nullptr) return wrapped;
  ASSIGN_OR_RETURN(crypto::Edek edek, crypto::DecodeEdek(wrapped.edek));
  if (!EdekAuthenticator::Applies(edek)) return wrapped;
  ASSIGN_OR_RETURN(wrapped.edek, authenticator_->Seal(std::move(edek), context));
  return wrapped;
}

absl::StatusOr<BrokerCore::DecodedEdek> BrokerCore::DecodeAndCheck(
    absl::string_view edek, const crypto::EncryptionContext& context) const {
  ASSIGN_OR_RETURN(DecodedEdek decoded, Decode(edek));
  if (authenticator_ != nullptr) RETURN_IF_ERROR(authenticator_->Check(decoded.edek, context));
  return decoded;
}

absl::StatusOr<BrokerCore::DecodedEdek> BrokerCore::Decode(absl::string_view edek) const {
  ASSIGN_OR_RETURN(crypto::Edek decoded, crypto::DecodeEdek(edek));
  ASSIGN_OR_RETURN(kms::Kms * kms, registry_->KmsFor(decoded.kms));
  return DecodedEdek{std::move(decoded), kms};
}

absl::StatusOr<UnwrappedDek> BrokerCore::UnwrapDecoded(absl::string_view edek_bytes,
                                                       const DecodedEdek& decoded,
                                                       const crypto::EncryptionContext& context,
                                                       const kms::CallOptions& options) const {
  bool cached = unwrap_cache_ != nullptr && decoded.kms->calls_remote_service();
  absl::Time now = MonotonicNow();  // TTLs: never extended by a wall clock stepped back
  if (cached) {
    auto hit = unwrap_cache_->Get(edek_bytes, context.canonical(), now);
    observer_->CacheLookup("unwrap", hit.has_value());
    if (hit.has_value()) return UnwrappedDek{std::move(hit->dek), std::move(hit->key_version)};
  }
  ASSIGN_OR_RETURN(crypto::SecretBytes dek, decoded.kms->Unwrap(decoded.edek, context, options));
  UnwrappedDek result{std::move(dek), decoded.edek.key_version};
  if (cached) {
    // The key id lets a revocation drop the entry (UnwrapCache::DropKey).
    absl::StatusOr<std::string> key_id = decoded.kms->KeyIdOf(decoded.edek);
    unwrap_cache_->Put(edek_bytes, context.canonical(),
                       UnwrapCache::Entry{result.plaintext.Clone(), result.key_version}, now,
                       key_id.ok() ? *key_id : "");
  }
  return result;
}

absl::StatusOr<UnwrappedDek> BrokerCore::Unwrap(absl::string_view edek,
                                                const crypto::EncryptionContext& context,
                                                const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(DecodedEdek decoded, DecodeAndCheck(edek, context));
  ASSIGN_OR_RETURN(UnwrappedDek dek, UnwrapDecoded(edek, decoded, context, options));
  RecordUse(decoded.edek, dek.key_version);
  return dek;
}

bool BrokerCore::MayBlock(absl::string_view alias) const {
  absl::StatusOr<BoundKey> key = registry_->Resolve(alias);
  return key.ok() && key->kms->calls_remote_service();
}

bool BrokerCore::MayBlockOnEdek(absl::string_view edek) const {
  if (edek.size() < 2) return false;
  absl::StatusOr<kms::Kms*> kms = registry_->KmsFor(static_cast<crypto::EdekKms>(edek[1]));
  return kms.ok() && (*kms)->calls_remote_service();
}

BrokerCore::EdekKey BrokerCore::KeyOfEdek(absl::string_view edek) const {
  EdekKey key;
  absl::StatusOr<DecodedEdek> decoded = Decode(edek);
  if (!decoded.ok()) return key;
  key.decoded = true;
  key.version = decoded->edek.key_version;
  absl::StatusOr<std::string> key_id = decoded->kms->KeyIdOf(decoded->edek);
  if (!key_id.ok()) return key;
  for (const BoundKey& bound : registry_->bindings()) {
    if (bound.kms == decoded->kms && bound.key_id == *key_id) {
      key.alias = bound.alias;
      return key;
    }
  }
  // A key named at run time: known by its URI, as a call naming it would be.
  if (KeyRegistry::IsKeyUri(*key_id)) key.alias = KeyRegistry::KeyUriName(*key_id);
  return key;
}

absl::StatusOr<std::string> BrokerCore::Rotate(absl::string_view alias,
                                               const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(const BoundKey key, registry_->Resolve(alias));
  return key.kms->Rotate(key.key_id, options);
}

absl::StatusOr<kms::WrappedKey> BrokerCore::Rewrap(absl::string_view edek,
                                                   const crypto::EncryptionContext& context,
                                                   const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(DecodedEdek decoded, DecodeAndCheck(edek, context));
  ASSIGN_OR_RETURN(std::string key_id, decoded.kms->KeyIdOf(decoded.edek));
  ASSIGN_OR_RETURN(UnwrappedDek dek, UnwrapDecoded(edek, decoded, context, options));
  ASSIGN_OR_RETURN(kms::WrappedKey wrapped,
                   decoded.kms->Wrap(key_id, dek.plaintext, context, options));
  ASSIGN_OR_RETURN(wrapped, Authenticated(std::move(wrapped), context));
  // Both: the old version was used to read, the current one to write.
  RecordUse(decoded.edek, dek.key_version);
  RecordUse(decoded.edek, wrapped.key_version);
  return wrapped;
}

absl::StatusOr<KeyStatus> BrokerCore::DescribeKey(absl::string_view alias,
                                                  const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(const BoundKey key, registry_->Resolve(alias));
  absl::StatusOr<kms::KeyDescription> description = key.kms->Describe(key.key_id, options);
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

absl::StatusOr<std::vector<KeyVersionStatus>> BrokerCore::KeyVersions(
    absl::string_view alias, bool ask_kms, const kms::CallOptions& options) const {
  ASSIGN_OR_RETURN(const BoundKey key, registry_->Resolve(alias));
  std::optional<std::vector<kms::KeyVersionInfo>> listed;
  if (ask_kms) {
    absl::StatusOr<std::vector<kms::KeyVersionInfo>> versions =
        key.kms->ListVersions(key.key_id, options);
    // A listing refused (a customer who grants wrap and unwrap but not
    // keys/list) still leaves the versions in use to report.
    if (versions.ok()) listed = *std::move(versions);
  }
  std::vector<KeyVersionInventory::VersionUse> used;
  if (inventory_ != nullptr) used = inventory_->UsesOf(alias);
  return JoinKeyVersions(std::move(listed), used);
}

void BrokerCore::RecordUse(const BoundKey& key, absl::string_view version) const {
  if (inventory_ != nullptr) {
    inventory_->RecordForKey(key, version, absl::ToUnixSeconds(absl::Now()));
  }
}

void BrokerCore::RecordUse(const crypto::Edek& edek, absl::string_view version) const {
  if (inventory_ != nullptr) {
    inventory_->RecordForEdek(edek.kms, edek.key_name, version, absl::ToUnixSeconds(absl::Now()));
  }
}

}  // namespace keybroker::server
