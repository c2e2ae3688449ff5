// Maps a Key Vault / Managed HSM error response to a keybroker error
// (keyvault-protocol.md §7). The message, which reaches gRPC callers, has a
// fixed shape: operation, key, HTTP status, the service's error codes and its
// x-ms-request-id; the service's error text goes only to a `key_vault_error`
// log line (error_text.h says why).
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VAULT_ERRORS_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VAULT_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

// Returns the error for a non-2xx `response` to `operation` ("unwrapkey",
// "get key", ...) on `what` ("key vault-a.vault.azure.net/cmk version ...").
// `edek_operation`: unwrapkey/decrypt, where a 400 means a bad EDEK.
// Writes the `key_vault_error` line (info): the codes, the request id and
// the service's message (or the body that was not Key Vault's JSON), capped
// at kMaxDiagnosticText bytes.
absl::Status KeyVaultError(const HttpResponse& response, absl::string_view operation,
                           absl::string_view what, bool edek_operation);

// Returns the error for a failed transport call (no response at all):
// DEADLINE_EXCEEDED when the caller's deadline passed first (the caller's
// choice), KMS_THROTTLED for a vault at the concurrency limit, INTERNAL for a
// request that could not be sent, else KMS_UNAVAILABLE (connection, TLS, the
// transport's own timeout).
absl::Status TransportError(const absl::Status& status, absl::string_view operation,
                            absl::string_view what);

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VAULT_ERRORS_H_
