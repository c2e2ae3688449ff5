// The Entra ID credential of an identity, for whichever kind it configures
// (client secret, client certificate, workload identity, managed identity).
#ifndef KEYBROKER_SERVER_AZURE_CREDENTIALS_H_
#define KEYBROKER_SERVER_AZURE_CREDENTIALS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "kms_adapters/azure/credential.h"
#include "kms_adapters/azure/http_client.h"
#include "server/config.h"

namespace keybroker::server {

// Fetches tokens through `http`, which must outlive the credential. `keys` are
// the configured bindings: a client secret or certificate identity without
// oauth_endpoint_url authenticates against the cloud of its keys' hosts (or
// of its `key_sources`' host globs).
// Reads the client id files now; errors name the field under
// kms.azure.identities.NAME.
absl::StatusOr<std::unique_ptr<kms::azure::Credential>> NewAzureCredential(
    const AzureIdentityConfig& identity, const std::vector<KeyBinding>& keys,
    const std::vector<AzureKeySourceConfig>& key_sources, kms::azure::HttpClient* http);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AZURE_CREDENTIALS_H_
