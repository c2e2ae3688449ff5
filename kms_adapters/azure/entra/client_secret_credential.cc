#include "kms_adapters/azure/entra/client_secret_credential.h"

#include <utility>

#include "common/error_reason.h"
#include "common/secret_file_permissions.h"
#include "common/status_macros.h"
#include "crypto/secret_file.h"
#include "kms_adapters/azure/entra/token_endpoint.h"

namespace keybroker::kms::azure {
namespace {

constexpr char kWhat[] = "entra client secret";

absl::StatusOr<crypto::SecretBytes> ReadClientSecret(const std::string& file) {
  WarnIfSecretFileExposed(file, kWhat);
  absl::StatusOr<crypto::SecretBytes> text = crypto::ReadSecretFile(file);
  if (!text.ok()) return Annotate(text.status(), kWhat);
  return TrimSecret(*text, kWhat);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClientSecretCredential>> ClientSecretCredential::Create(
    Options options, HttpClient* http, const Clock* clock) {
  ASSIGN_OR_RETURN(std::string token_url,
                   TokenEndpointUrl(options.authority_host, options.tenant_id));
  ASSIGN_OR_RETURN(std::string client_id, ParseClientId(options.client_id.RevealAsStringView()));
  std::unique_ptr<SecretFile> secret;
  if (options.client_secret_file.empty()) {
    ASSIGN_OR_RETURN(crypto::SecretBytes fixed, TrimSecret(options.client_secret, kWhat));
    secret = SecretFile::Fixed(std::move(fixed));
  } else {
    std::string file = options.client_secret_file;
    ASSIGN_OR_RETURN(secret,
                     SecretFile::Load({file}, kWhat, [file] { return ReadClientSecret(file); }));
  }
  return std::unique_ptr<ClientSecretCredential>(new ClientSecretCredential(
      std::move(token_url), std::move(client_id), std::move(secret), http, clock));
}

absl::StatusOr<AccessToken> ClientSecretCredential::Fetch(absl::string_view scope,
                                                          absl::Time deadline) {
  // Held until the request is sent: a reload meanwhile does not wipe it.
  std::shared_ptr<const crypto::SecretBytes> secret = client_secret_->Current();
  const FormField form[] = {
      {"grant_type", "client_credentials"},
      {"client_id", client_id_},
      {"client_secret", secret->RevealAsStringView()},
      {"scope", scope},
  };
  return PostTokenRequest(*http_, token_url_, form, clock_->Now(), deadline);
}

}  // namespace keybroker::kms::azure
