#include "examples/fhir_store/commands.h"

#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace keybroker::examples {

absl::StatusOr<std::string> CreateAccount(const Store& store, absl::string_view account,
                                          absl::string_view key_alias) {
  ASSIGN_OR_RETURN(std::string alias, store.provisioner->CreateAccount(account, key_alias));
  RETURN_IF_ERROR(store.db->AddAccount(account, alias));
  return nlohmann::ordered_json{{"account", account}, {"key", alias}}.dump();
}

absl::StatusOr<std::string> PutResource(const Store& store, absl::string_view account,
                                        absl::string_view resource_json) {
  ASSIGN_OR_RETURN(sdk::fhir::ProtectedResource sealed,
                   store.protector->Protect(account, resource_json));
  RETURN_IF_ERROR(store.db->PutResource(account, {sealed.identity, sealed.blob}));
  return nlohmann::ordered_json{{"resourceType", sealed.identity.resource_type},
                                {"id", sealed.identity.id},
                                {"versionId", sealed.identity.version_id}}
      .dump();
}

absl::StatusOr<std::string> GetResource(const Store& store, absl::string_view account,
                                        absl::string_view type, absl::string_view id,
                                        absl::string_view version_id) {
  RETURN_IF_ERROR(store.db->KeyAliasOf(account).status());  // 404 for an unknown account
  ASSIGN_OR_RETURN(StoredResource stored, store.db->GetResource(account, type, id, version_id));
  return store.protector->Unprotect(account, stored.identity.resource_type, stored.identity.id,
                                    stored.identity.version_id, stored.blob);
}

}  // namespace keybroker::examples
