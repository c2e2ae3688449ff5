// Credential: where an identity's Entra ID access tokens come from (client
// secret, client certificate, workload identity, managed identity).
//
// A credential only fetches; caching and refresh live in TokenCache. Secrets
// (client secrets, private keys, tokens) never appear in errors or logs.
// Implementations are safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_CREDENTIAL_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_CREDENTIAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"

namespace keybroker::kms::azure {

struct AccessToken {
  crypto::SecretBytes token;
  absl::Time expires_at;
};

class Credential {
 public:
  virtual ~Credential() = default;

  // Fetches a new token for `scope` (e.g. "https://vault.azure.net/.default";
  // managed identity uses the scope without "/.default" as its resource).
  // Errors: KMS_UNAVAILABLE when Entra refuses the identity (bad or expired
  // secret, unknown certificate, client or tenant: the broker operator's to
  // fix, never a customer's key state) or cannot answer, or when the
  // credential's own material (a federated token file) cannot be read;
  // KMS_THROTTLED when Entra throttles.
  virtual absl::StatusOr<AccessToken> Fetch(absl::string_view scope, absl::Time deadline) = 0;
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_CREDENTIAL_H_
