// ClientSecretCredential: an Entra ID application authenticating with a
// client secret (OAuth client credentials, keyvault-protocol.md §9.1) --
// Kroxylicious' "entraIdentity".
//
// The secret may come from a file, read again for the next token request
// once it changes (rotation without restart; credential_files.h), and is
// warned about when others may read it (secret_file_permissions.h). Safe for
// concurrent use. The secret stays in a SecretBytes and leaves it only for
// the moment the request body is built.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_SECRET_CREDENTIAL_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_SECRET_CREDENTIAL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/azure/credential.h"
#include "kms_adapters/azure/entra/clock.h"
#include "kms_adapters/azure/entra/credential_files.h"
#include "kms_adapters/azure/entra/token_endpoint.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

class ClientSecretCredential : public Credential {
 public:
  struct Options {
    std::string tenant_id;
    // As read from their files; surrounding whitespace is ignored.
    crypto::SecretBytes client_id;
    // The secret's file (client_secret.password_file), read now and again
    // whenever it changes; or, when empty, the secret itself.
    std::string client_secret_file;
    crypto::SecretBytes client_secret;
    // oauth_endpoint_url: a URL or host name, trailing '/' allowed.
    std::string authority_host = std::string(kPublicCloudAuthorityHost);
  };

  // Checks `options` and returns the credential. INVALID_ARGUMENT naming the
  // field (never its value) when the tenant id, client id, secret or
  // authority is unusable; ReadSecretFile's error when the secret's file
  // cannot be read. `http` (trusting Entra ID's CA) and `clock` must outlive
  // the credential.
  static absl::StatusOr<std::unique_ptr<ClientSecretCredential>> Create(Options options,
                                                                        HttpClient* http,
                                                                        const Clock* clock);

  // POSTs grant_type=client_credentials with the id, the current secret and
  // `scope`. Errors as Credential::Fetch says.
  absl::StatusOr<AccessToken> Fetch(absl::string_view scope, absl::Time deadline) override;

 private:
  using SecretFile = CredentialFiles<crypto::SecretBytes>;

  ClientSecretCredential(std::string token_url, std::string client_id,
                         std::unique_ptr<SecretFile> client_secret, HttpClient* http,
                         const Clock* clock)
      : token_url_(std::move(token_url)),
        client_id_(std::move(client_id)),
        client_secret_(std::move(client_secret)),
        http_(http),
        clock_(clock) {}

  const std::string token_url_;
  const std::string client_id_;
  const std::unique_ptr<SecretFile> client_secret_;
  HttpClient* const http_;
  const Clock* const clock_;
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_SECRET_CREDENTIAL_H_
