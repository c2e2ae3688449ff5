// kms.azure.key_sources: which identity reaches a customer key named at run
// time by its URI, and with what vault kind and token scope.
#ifndef KEYBROKER_SERVER_AZURE_KEY_SOURCES_H_
#define KEYBROKER_SERVER_AZURE_KEY_SOURCES_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "kms_adapters/azure/azure_kms.h"
#include "kms_adapters/azure/key_id.h"
#include "server/config.h"

namespace keybroker::server {

// The token scope for a key of `kind` on `host` reached through `identity`:
// the identity's own scope, else the one the host's cloud implies, else the
// public cloud's for the kind.
std::string AzureScopeFor(const AzureIdentityConfig& identity, kms::azure::VaultKind kind,
                          absl::string_view host);

// The AzureKms resolver of `azure`'s key sources: the first source with a
// host glob matching the key's host (case-insensitively) gives the options,
// its identity's token provider from `tokens` (by identity name; it must
// outlive the resolver). The vault kind comes from the host's cloud, else
// from "managedhsm" in the host. Empty when there are no sources.
kms::azure::KeySourceResolver NewKeySourceResolver(
    const AzureConfig& azure, const std::map<std::string, kms::azure::TokenProvider*>& tokens);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AZURE_KEY_SOURCES_H_
