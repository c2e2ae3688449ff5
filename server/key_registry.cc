#include "server/key_registry.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "kms_adapters/azure/key_id.h"

namespace keybroker::server {

absl::Status KeyRegistry::AddKms(std::unique_ptr<kms::Kms> kms) {
  for (const auto& existing : kms_) {
    if (existing->kind() == kms->kind()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", crypto::EdekKmsName(kms->kind()), " kms is already registered"));
    }
  }
  kms_.push_back(std::move(kms));
  return absl::OkStatus();
}

absl::Status KeyRegistry::Bind(const std::string& alias, crypto::EdekKms kind,
                               const std::string& key_id) {
  absl::StatusOr<kms::Kms*> kms = KmsFor(kind);
  if (!kms.ok()) return kms.status();
  if (!keys_.emplace(alias, BoundKey{.alias = alias, .kms = *kms, .key_id = key_id}).second) {
    return absl::InvalidArgumentError(absl::StrCat("key alias ", alias, " is bound twice"));
  }
  aliases_.push_back(alias);
  bindings_.push_back(BoundKey{.alias = alias, .kms = *kms, .key_id = key_id});
  if (kind == crypto::EdekKms::kAzure) {
    std::string uri_name = KeyUriName(key_id);
    // The first alias, as BrokerCore::KeyOfEdek finds the first binding.
    if (!uri_name.empty()) alias_of_uri_.emplace(std::move(uri_name), alias);
  }
  return absl::OkStatus();
}

const std::string* KeyRegistry::ConfiguredAliasOfUri(absl::string_view uri) const {
  auto it = alias_of_uri_.find(KeyUriName(uri));
  return it == alias_of_uri_.end() ? nullptr : &it->second;
}

absl::StatusOr<const BoundKey*> KeyRegistry::Find(absl::string_view alias) const {
  if (alias.empty()) return InvalidRequest("key alias is required");
  auto it = keys_.find(alias);
  if (it == keys_.end()) {
    absl::Status status = KeyNotFound(absl::StrCat("no key alias '", alias, "' is configured"));
    MarkAliasNotConfigured(status);
    return status;
  }
  return &it->second;
}

bool KeyRegistry::IsKeyUri(absl::string_view key) {
  return absl::StartsWith(key, "https://");
}

namespace {

std::string UriNameOf(const kms::azure::KeyId& id) {
  return absl::StrCat(id.VaultUrl(), "/keys/", id.name);
}

}  // namespace

std::string KeyRegistry::KeyUriName(absl::string_view uri) {
  absl::StatusOr<kms::azure::KeyId> id = kms::azure::ParseKeyId(uri);
  if (!id.ok()) return "";
  return UriNameOf(*id);
}

std::string KeyRegistry::KeyUriEdekName(absl::string_view uri) {
  absl::StatusOr<kms::azure::KeyId> id = kms::azure::ParseKeyId(uri);
  if (!id.ok()) return "";
  return id->EdekName();
}

absl::StatusOr<BoundKey> KeyRegistry::Resolve(absl::string_view key) const {
  if (!IsKeyUri(key) || keys_.contains(key)) {
    ASSIGN_OR_RETURN(const BoundKey* bound, Find(key));
    return *bound;
  }
  // Only Azure keys are named by URI today.
  absl::StatusOr<kms::Kms*> kms = KmsFor(crypto::EdekKms::kAzure);
  if (!kms.ok()) {
    return KeyNotFound("key URIs need a kms.azure section with key_sources");
  }
  ASSIGN_OR_RETURN(std::string key_id, (*kms)->KeyIdForUri(key));
  // Parsed once more for both names (the KMS took it, so it parses).
  absl::StatusOr<kms::azure::KeyId> id = kms::azure::ParseKeyId(key);
  if (!id.ok()) return InvalidRequest(id.status().message());
  return BoundKey{.alias = UriNameOf(*id),
                  .kms = *kms,
                  .key_id = std::move(key_id),
                  .edek_key_name = id->EdekName()};
}

absl::StatusOr<kms::Kms*> KeyRegistry::KmsFor(crypto::EdekKms kind) const {
  for (const auto& kms : kms_) {
    if (kms->kind() == kind) return kms.get();
  }
  return EdekInvalid(absl::StrCat("edek is for the ", crypto::EdekKmsName(kind),
                                  " kms, which this broker is not configured with"));
}

}  // namespace keybroker::server
