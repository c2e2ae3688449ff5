// Reading the answer of a token service: the Entra ID v2.0 token endpoint
// (keyvault-protocol.md §9.1-§9.4) or the managed-identity IMDS endpoint
// (§9.5). One place decides what each answer means to the broker:
//
//   200 {"token_type":"Bearer","expires_in":N or "N","access_token":"..."}
//       -> the token, expiring `requested_at` + expires_in
//   200 with anything else                  -> KMS_UNAVAILABLE
//   429                                     -> KMS_THROTTLED (+ Retry-After)
//   5xx, error "temporarily_unavailable",
//   IMDS 404/410 (IMDS is updating)         -> KMS_UNAVAILABLE
//   other 4xx (invalid_client, unauthorized_client, invalid_tenant,
//   invalid_request, invalid_scope, ...)    -> KMS_UNAVAILABLE ("refused the
//                                              broker's own credential")
//   no response (connection, TLS, deadline) -> KMS_UNAVAILABLE
//
// Every failure is the service's, never the customer's: the identity, its
// secret or certificate, the tenant and the trust for Entra are the broker
// operator's settings, and a customer's key says nothing about them. (A
// customer who removes the broker's access to their key is told by Key
// Vault, with a 403, after a token was issued.) So a broken credential is a
// service fault that alerts, rather than KEY_NOT_ACCESSIBLE for every key.
//
// Error messages, which reach gRPC callers, have a fixed shape: the service,
// the HTTP status, the OAuth error, the AADSTS number and the trace and
// correlation ids for Microsoft support. error_description, which names the
// application, tenant or certificate involved, goes only to an
// `entra_token_error` log line (info), capped at 1 KiB (error_text.h). Neither
// ever contains the request or the token. Safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_RESPONSE_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_RESPONSE_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kms_adapters/azure/credential.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

enum class TokenService {
  kEntraId,  // https://{authority}/{tenant}/oauth2/v2.0/token
  kImds,     // http://169.254.169.254/metadata/identity/oauth2/token
};

// Returns the token in `response` (the result of HttpClient::Send), or the
// error it means, as in the table above. `requested_at` is when the request
// was sent: expires_in counts from the token's issue, which is no earlier.
// Wipes the copies of the token it makes while parsing (and the body: the
// caller keeps no copy of the token it does not own).
absl::StatusOr<AccessToken> TokenFromResponse(TokenService service,
                                              absl::StatusOr<HttpResponse> response,
                                              absl::Time requested_at);

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_RESPONSE_H_
