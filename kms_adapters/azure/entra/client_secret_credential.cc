#include "kms_adapters/azure/entra/client_secret_credential.h"

#include <utility>

#include "common/status_macros.h"
#include "kms_adapters/azure/entra/token_endpoint.h"

namespace keybroker::kms::azure {

absl::StatusOr<std::unique_ptr<ClientSecretCredential>> ClientSecretCredential::Create(
    Options options, HttpClient* http, const Clock* clock) {
  ASSIGN_OR_RETURN(std::string token_url,
                   TokenEndpointUrl(options.authority_host, options.tenant_id));
  ASSIGN_OR_RETURN(std::string client_id, ParseClientId(options.client_id.RevealAsStringView()));
  ASSIGN_OR_RETURN(crypto::SecretBytes secret,
                   TrimSecret(options.client_secret, "entra client secret"));
  return std::unique_ptr<ClientSecretCredential>(new ClientSecretCredential(
      std::move(token_url), std::move(client_id), std::move(secret), http, clock));
}

absl::StatusOr<AccessToken> ClientSecretCredential::Fetch(absl::string_view scope,
                                                          absl::Time deadline) {
  const FormField form[] = {
      {"grant_type", "client_credentials"},
      {"client_id", client_id_},
      {"client_secret", client_secret_.RevealAsStringView()},
      {"scope", scope},
  };
  return PostTokenRequest(*http_, token_url_, form, clock_->Now(), deadline);
}

}  // namespace keybroker::kms::azure
