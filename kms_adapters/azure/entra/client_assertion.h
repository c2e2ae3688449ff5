// The signed JWT an Entra ID application presents instead of a client secret
// when it authenticates with a certificate (keyvault-protocol.md §9.2,
// current Microsoft identity platform docs):
//
//   header  {"alg":"PS256","typ":"JWT","x5t#S256":base64url(SHA-256(cert DER))}
//   claims  {"aud":token URL,"iss":client_id,"sub":client_id,"jti":random id,
//            "nbf":now,"iat":now,"exp":now + lifetime}
//
// signed with RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt), all parts
// base64url without padding. Pure function; safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_ASSERTION_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_ASSERTION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/hmac.h"
#include "crypto/rsa_pss_sign.h"
#include "crypto/secret_bytes.h"

namespace keybroker::kms::azure {

// Entra accepts assertions of 5 to 10 minutes (§9.2).
inline constexpr absl::Duration kClientAssertionLifetime = absl::Minutes(10);

struct ClientAssertionClaims {
  std::string audience;   // the token endpoint URL the assertion is sent to
  std::string client_id;  // iss and sub
  absl::Time now;         // nbf and iat; exp is now + kClientAssertionLifetime
};

// Returns the compact JWS. It is a bearer credential for its lifetime, hence
// a SecretBytes. INTERNAL if the random jti or the signature fails.
absl::StatusOr<crypto::SecretBytes> MakeClientAssertion(const ClientAssertionClaims& claims,
                                                        const crypto::Sha256Digest& thumbprint,
                                                        const crypto::RsaPssSigner& signer);

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_ASSERTION_H_
