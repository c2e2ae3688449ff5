// The Entra ID v2.0 token endpoint (keyvault-protocol.md §1.3, §9.1-§9.4):
// its URL for a tenant, and the client-credentials POST that the client
// secret, client certificate and workload identity credentials share.
//
// Also the checks those credentials make on their configured identifiers.
// Pure functions (PostTokenRequest only calls `http`); safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_ENDPOINT_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_ENDPOINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/azure/credential.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

// The public cloud's authority, used when none is configured or inferred.
inline constexpr absl::string_view kPublicCloudAuthorityHost = "https://login.microsoftonline.com";

// The OAuth client-assertion type of certificate and federated assertions.
inline constexpr absl::string_view kJwtBearerAssertionType =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// Returns "https://{authority}/{tenant}/oauth2/v2.0/token". `authority_host`
// is a URL ("https://login.microsoftonline.com", trailing '/' allowed, as
// AZURE_AUTHORITY_HOST often has) or a bare host name (https is then
// assumed). INVALID_ARGUMENT when it is not https or has a query, or when
// `tenant_id` is not a tenant GUID or domain name.
absl::StatusOr<std::string> TokenEndpointUrl(absl::string_view authority_host,
                                             absl::string_view tenant_id);

// Returns the client id in `text` (read from a file: surrounding whitespace
// ignored). INVALID_ARGUMENT when empty or not printable ASCII.
absl::StatusOr<std::string> ParseClientId(absl::string_view text);

// Returns a copy of `secret` without surrounding whitespace (files usually end
// with a newline). INVALID_ARGUMENT naming `what` when nothing is left.
absl::StatusOr<crypto::SecretBytes> TrimSecret(const crypto::SecretBytes& secret,
                                               absl::string_view what);

// One field of an application/x-www-form-urlencoded body. The views must
// live until PostTokenRequest returns.
struct FormField {
  absl::string_view name;
  absl::string_view value;
};

// POSTs `form` (each value percent-encoded) to `token_url` and returns the
// token Entra ID issues, expiring `now` + expires_in. Errors as
// token_response.h says (KMS_UNAVAILABLE, KMS_THROTTLED);
// their messages never include the form. The encoded body, which may hold a
// client secret or assertion, is wiped afterwards.
absl::StatusOr<AccessToken> PostTokenRequest(HttpClient& http, const std::string& token_url,
                                             absl::Span<const FormField> form, absl::Time now,
                                             absl::Time deadline);

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_ENDPOINT_H_
