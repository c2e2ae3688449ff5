// The TLS trust of an Azure HTTPS client (Key Vault's, or an identity's Entra
// ID), from a configuration block. Skipping verification is refused unless the
// environment opts in, so a test setting cannot reach production by a copied
// file alone.
#ifndef KEYBROKER_SERVER_AZURE_TLS_TRUST_H_
#define KEYBROKER_SERVER_AZURE_TLS_TRUST_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kms_adapters/azure/http_client.h"
#include "server/config.h"

namespace keybroker::server {

// The environment variable that must be "1" for insecure_skip_verify.
inline constexpr char kAllowInsecureTlsEnv[] = "KEYBROKER_ALLOW_INSECURE_TLS";

// INVALID_ARGUMENT naming `path`.insecure_skip_verify when it is set without
// kAllowInsecureTlsEnv=1; when allowed, it is logged as a warning.
absl::StatusOr<kms::azure::TlsTrust> AzureTlsTrust(const TlsTrustConfig& config,
                                                   absl::string_view path);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AZURE_TLS_TRUST_H_
