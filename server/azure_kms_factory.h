// Builds the Azure side of the broker from kms.azure and the keys bound to
// azure_key: HTTP clients (TLS trust for Key Vault and, separately, for each
// identity's Entra ID), retries and per-vault limits, one credential and
// token cache per identity, the Key Vault client and the AzureKms.
#ifndef KEYBROKER_SERVER_AZURE_KMS_FACTORY_H_
#define KEYBROKER_SERVER_AZURE_KMS_FACTORY_H_

#include "absl/status/status.h"
#include "kms_adapters/kms_observer.h"
#include "server/config.h"
#include "server/key_registry.h"

namespace keybroker::server {

// Adds the AzureKms to `registry` and binds every azure_key alias. Fails,
// naming the field, on unusable settings (unreadable secret files, a host
// whose cloud cannot be inferred without overrides, insecure TLS not
// allowed). Reaches no vault: an inaccessible customer key is not a start-up
// error.
absl::Status AddAzureKms(const Config& config, KeyRegistry* registry,
                         kms::KmsObserver* observer);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AZURE_KMS_FACTORY_H_
