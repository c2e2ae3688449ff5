#include "server/azure_credentials.h"

#include <string>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/secret_file.h"
#include "kms_adapters/azure/entra/client_certificate_credential.h"
#include "kms_adapters/azure/entra/client_secret_credential.h"
#include "kms_adapters/azure/entra/managed_identity_credential.h"
#include "kms_adapters/azure/entra/workload_identity_credential.h"
#include "kms_adapters/azure/key_id.h"

namespace keybroker::server {
namespace {

namespace az = kms::azure;

using CredentialOr = absl::StatusOr<std::unique_ptr<az::Credential>>;

// What every kind may draw on besides its own block.
struct Shared {
  const AzureIdentityConfig& identity;
  const std::vector<KeyBinding>& keys;
  const std::vector<AzureKeySourceConfig>& key_sources;
  az::HttpClient* http;
  std::string path;  // kms.azure.identities.NAME
};

absl::StatusOr<crypto::SecretBytes> ReadClientId(const Shared& shared) {
  absl::StatusOr<crypto::SecretBytes> id = crypto::ReadSecretFile(shared.identity.client_id_file);
  if (!id.ok()) return Annotate(id.status(), shared.path + ".client_id");
  return id;
}

// Workload and managed identities take the identity's client_id file only
// when their own block names no client id. Whitespace is stripped because such
// files usually end with a newline, which Entra ID would not match.
absl::Status FallBackToClientIdFile(const Shared& shared, std::string& client_id) {
  if (!client_id.empty() || shared.identity.client_id_file.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(crypto::SecretBytes id, ReadClientId(shared));
  client_id = std::string(absl::StripAsciiWhitespace(id.RevealAsStringView()));
  return absl::OkStatus();
}

// Configured, else the cloud of the identity's keys: an operator on a
// sovereign cloud need not repeat what the vault host already says.
absl::StatusOr<std::string> Authority(const Shared& shared) {
  if (!shared.identity.oauth_endpoint_url.empty()) return shared.identity.oauth_endpoint_url;
  for (const KeyBinding& binding : shared.keys) {
    if (binding.identity != shared.identity.name) continue;
    ASSIGN_OR_RETURN(az::KeyId id, az::ParseKeyId(binding.azure_key));
    absl::StatusOr<az::CloudEndpoints> cloud = az::InferCloudEndpoints(id.host);
    if (cloud.ok()) return cloud->authority;
  }
  // Or of its key sources' hosts ("*.vault.azure.net" is on the public cloud).
  for (const AzureKeySourceConfig& source : shared.key_sources) {
    if (source.identity != shared.identity.name) continue;
    for (const std::string& glob : source.vaults) {
      absl::StatusOr<az::CloudEndpoints> cloud =
          az::InferCloudEndpoints(absl::StrReplaceAll(glob, {{"*", "x"}, {"?", "x"}}));
      if (cloud.ok()) return cloud->authority;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(shared.path,
                   ".oauth_endpoint_url is required: no key of this identity is on a known cloud "
                   "host"));
}

CredentialOr NewCredential(const Shared& shared, const ClientSecretCredentialConfig& secret) {
  az::ClientSecretCredential::Options options;
  options.tenant_id = shared.identity.tenant_id;
  ASSIGN_OR_RETURN(options.client_id, ReadClientId(shared));
  // The credential reads the secret itself, and again when the file changes.
  options.client_secret_file = secret.client_secret_file;
  ASSIGN_OR_RETURN(options.authority_host, Authority(shared));
  return az::ClientSecretCredential::Create(std::move(options), shared.http, az::SystemClock());
}

CredentialOr NewCredential(const Shared& shared, const ClientCertificateCredentialConfig& cert) {
  az::ClientCertificateCredential::Options options;
  options.tenant_id = shared.identity.tenant_id;
  ASSIGN_OR_RETURN(options.client_id, ReadClientId(shared));
  options.certificate_file = cert.cert_file;
  options.private_key_file = cert.key_file;
  ASSIGN_OR_RETURN(options.authority_host, Authority(shared));
  return az::ClientCertificateCredential::Create(std::move(options), shared.http,
                                                 az::SystemClock());
}

// Each field: the block's, else the identity's, else the pod's AZURE_*.
CredentialOr NewCredential(const Shared& shared, const WorkloadIdentityCredentialConfig& workload) {
  const AzureIdentityConfig& identity = shared.identity;
  az::WorkloadIdentityCredential::Options options{
      .client_id = workload.client_id,
      .tenant_id = workload.tenant_id.empty() ? identity.tenant_id : workload.tenant_id,
      .token_file = workload.token_file,
      .authority_host =
          workload.authority_host.empty() ? identity.oauth_endpoint_url : workload.authority_host,
  };
  RETURN_IF_ERROR(FallBackToClientIdFile(shared, options.client_id));
  az::WorkloadIdentityCredential::FillFromEnvironment(options);
  return az::WorkloadIdentityCredential::Create(options, shared.http, az::SystemClock());
}

CredentialOr NewCredential(const Shared& shared, const ManagedIdentityCredentialConfig& managed) {
  az::ManagedIdentityCredential::Options options;
  options.client_id = managed.client_id;
  RETURN_IF_ERROR(FallBackToClientIdFile(shared, options.client_id));
  if (!managed.endpoint.empty()) options.endpoint = managed.endpoint;
  return az::ManagedIdentityCredential::Create(options, shared.http, az::SystemClock());
}

}  // namespace

absl::StatusOr<std::unique_ptr<az::Credential>> NewAzureCredential(
    const AzureIdentityConfig& identity, const std::vector<KeyBinding>& keys,
    const std::vector<AzureKeySourceConfig>& key_sources, az::HttpClient* http) {
  Shared shared{.identity = identity,
                .keys = keys,
                .key_sources = key_sources,
                .http = http,
                .path = absl::StrCat("kms.azure.identities.", identity.name)};
  CredentialOr credential =
      std::visit([&](const auto& kind) -> CredentialOr { return NewCredential(shared, kind); },
                 identity.credential);
  if (!credential.ok()) return Annotate(credential.status(), shared.path);
  return credential;
}

}  // namespace keybroker::server
