#include "server/key_registry.h"

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"

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
  if (!keys_.emplace(alias, BoundKey{alias, *kms, key_id}).second) {
    return absl::InvalidArgumentError(absl::StrCat("key alias ", alias, " is bound twice"));
  }
  aliases_.push_back(alias);
  bindings_.push_back(BoundKey{alias, *kms, key_id});
  return absl::OkStatus();
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

absl::StatusOr<kms::Kms*> KeyRegistry::KmsFor(crypto::EdekKms kind) const {
  for (const auto& kms : kms_) {
    if (kms->kind() == kind) return kms.get();
  }
  return EdekInvalid(absl::StrCat("edek is for the ", crypto::EdekKmsName(kind),
                                  " kms, which this broker is not configured with"));
}

}  // namespace keybroker::server
