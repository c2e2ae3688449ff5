#include "server/azure_kms_factory.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/secret_file.h"
#include "kms_adapters/azure/azure_kms.h"
#include "kms_adapters/azure/entra/client_certificate_credential.h"
#include "kms_adapters/azure/entra/client_secret_credential.h"
#include "kms_adapters/azure/entra/managed_identity_credential.h"
#include "kms_adapters/azure/entra/token_cache.h"
#include "kms_adapters/azure/entra/workload_identity_credential.h"
#include "kms_adapters/azure/key_vault_client.h"
#include "server/azure_cached_tokens.h"
#include "server/azure_http_stack.h"
#include "server/azure_tls_trust.h"

namespace keybroker::server {
namespace {

namespace az = kms::azure;
using Kind = AzureIdentityConfig::Kind;

absl::Duration RequestTimeout(const AzureConfig& azure) {
  return absl::Seconds(azure.request_timeout_seconds);
}

absl::StatusOr<crypto::SecretBytes> ReadSecret(const std::string& file, absl::string_view path) {
  absl::StatusOr<crypto::SecretBytes> secret = crypto::ReadSecretFile(file);
  if (!secret.ok()) return Annotate(secret.status(), path);
  return secret;
}

// The authority for `identity`: configured, else the cloud of its keys.
absl::StatusOr<std::string> Authority(const Config& config, const AzureIdentityConfig& identity,
                                      const std::string& path) {
  if (!identity.oauth_endpoint_url.empty()) return identity.oauth_endpoint_url;
  for (const KeyBinding& binding : config.keys) {
    if (binding.identity != identity.name) continue;
    ASSIGN_OR_RETURN(az::KeyId id, az::ParseKeyId(binding.azure_key));
    absl::StatusOr<az::CloudEndpoints> cloud = az::InferCloudEndpoints(id.host);
    if (cloud.ok()) return cloud->authority;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, ".oauth_endpoint_url is required: no key of this identity is on a known cloud host"));
}

absl::StatusOr<std::unique_ptr<az::Credential>> NewCredential(const Config& config,
                                                              const AzureIdentityConfig& identity,
                                                              az::HttpClient* http) {
  std::string path = absl::StrCat("kms.azure.identities.", identity.name);
  const az::Clock* clock = az::SystemClock();
  switch (identity.kind) {
    case Kind::kClientSecret: {
      az::ClientSecretCredential::Options options;
      options.tenant_id = identity.tenant_id;
      ASSIGN_OR_RETURN(options.client_id, ReadSecret(identity.client_id_file, path + ".client_id"));
      // Read, and read again when it changes, by the credential.
      options.client_secret_file = identity.client_secret_file;
      ASSIGN_OR_RETURN(options.authority_host, Authority(config, identity, path));
      return az::ClientSecretCredential::Create(std::move(options), http, clock);
    }
    case Kind::kClientCertificate: {
      az::ClientCertificateCredential::Options options;
      options.tenant_id = identity.tenant_id;
      ASSIGN_OR_RETURN(options.client_id, ReadSecret(identity.client_id_file, path + ".client_id"));
      options.certificate_file = identity.cert_file;
      options.private_key_file = identity.key_file;
      ASSIGN_OR_RETURN(options.authority_host, Authority(config, identity, path));
      return az::ClientCertificateCredential::Create(std::move(options), http, clock);
    }
    case Kind::kWorkloadIdentity: {
      // Each field: the workload_identity block, else the identity's own
      // tenant_id / client_id / oauth_endpoint_url, else the pod's AZURE_*.
      az::WorkloadIdentityCredential::Options options{
          identity.workload_client_id, identity.workload_tenant_id, identity.workload_token_file,
          identity.workload_authority_host.empty() ? identity.oauth_endpoint_url
                                                   : identity.workload_authority_host};
      if (options.tenant_id.empty()) options.tenant_id = identity.tenant_id;
      if (options.client_id.empty() && !identity.client_id_file.empty()) {
        ASSIGN_OR_RETURN(crypto::SecretBytes id,
                         ReadSecret(identity.client_id_file, path + ".client_id"));
        options.client_id = std::string(absl::StripAsciiWhitespace(id.RevealAsStringView()));
      }
      az::WorkloadIdentityCredential::FillFromEnvironment(options);
      return az::WorkloadIdentityCredential::Create(options, http, clock);
    }
    case Kind::kManagedIdentity: {
      az::ManagedIdentityCredential::Options options;
      options.client_id = identity.managed_client_id;
      if (options.client_id.empty() && !identity.client_id_file.empty()) {
        ASSIGN_OR_RETURN(crypto::SecretBytes id,
                         ReadSecret(identity.client_id_file, path + ".client_id"));
        options.client_id = std::string(absl::StripAsciiWhitespace(id.RevealAsStringView()));
      }
      if (!identity.managed_endpoint.empty()) options.endpoint = identity.managed_endpoint;
      return az::ManagedIdentityCredential::Create(options, http, clock);
    }
  }
  return absl::InternalError("unknown identity kind");
}

// Everything the AzureKms uses, kept alive by the registry.
struct AzureRuntime {
  std::vector<std::unique_ptr<az::HttpClient>> http;
  std::map<std::string, std::unique_ptr<CachedTokens>> tokens;  // by identity name
  std::unique_ptr<az::KeyVaultClient> client;
};

absl::Status AddIdentities(const Config& config, AzureRuntime& runtime,
                           kms::KmsObserver* observer) {
  for (const AzureIdentityConfig& identity : config.azure->identities) {
    std::string path = absl::StrCat("kms.azure.identities.", identity.name);
    ASSIGN_OR_RETURN(az::TlsTrust trust, AzureTlsTrust(identity.tls, path + ".tls"));
    ASSIGN_OR_RETURN(std::unique_ptr<az::HttpClient> http,
                     NewAzureHttpClient(trust, RequestTimeout(*config.azure), 0));
    absl::StatusOr<std::unique_ptr<az::Credential>> credential =
        NewCredential(config, identity, http.get());
    if (!credential.ok()) return Annotate(credential.status(), path);
    runtime.http.push_back(std::move(http));
    az::TokenCache::Options cache_options;
    cache_options.observer = observer;
    runtime.tokens[identity.name] = std::make_unique<CachedTokens>(std::make_unique<az::TokenCache>(
        identity.name, *std::move(credential), az::SystemClock(), cache_options));
  }
  return absl::OkStatus();
}

const AzureIdentityConfig* IdentityNamed(const AzureConfig& azure, const std::string& name) {
  for (const AzureIdentityConfig& identity : azure.identities) {
    if (identity.name == name) return &identity;
  }
  return nullptr;
}

// The key's options: vault kind and scope configured, else inferred from the
// host, else (for a kind given explicitly) the public cloud's scope.
absl::StatusOr<az::AzureKeyOptions> KeyOptions(const Config& config, size_t i,
                                               AzureRuntime& runtime) {
  const KeyBinding& binding = config.keys[i];
  std::string path = absl::StrCat("keys[", i, "]");
  absl::StatusOr<az::KeyId> id = az::ParseKeyId(binding.azure_key);
  if (!id.ok()) return Annotate(id.status(), path + ".azure_key");
  absl::StatusOr<az::CloudEndpoints> cloud = az::InferCloudEndpoints(id->host);
  az::AzureKeyOptions options;
  options.key_url = binding.azure_key;
  if (!binding.vault_kind.empty()) {
    options.kind = binding.vault_kind == "vault" ? az::VaultKind::kVault
                                                 : az::VaultKind::kManagedHsm;
  } else if (cloud.ok()) {
    options.kind = cloud->kind;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(path, ".vault_kind is required: ",
                                                   cloud.status().message()));
  }
  const AzureIdentityConfig* identity = IdentityNamed(*config.azure, binding.identity);
  if (!identity->scope.empty()) {
    options.scope = identity->scope;
  } else if (cloud.ok()) {
    options.scope = cloud->scope;
  } else {
    options.scope = options.kind == az::VaultKind::kVault ? "https://vault.azure.net/.default"
                                                          : "https://managedhsm.azure.net/.default";
  }
  options.tokens = runtime.tokens[binding.identity].get();
  if (binding.hsm_random && options.kind != az::VaultKind::kManagedHsm) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".hsm_random needs a Managed HSM key (vault_kind managed_hsm)"));
  }
  options.hsm_random = binding.hsm_random;
  return options;
}

}  // namespace

absl::Status AddAzureKms(const Config& config, KeyRegistry* registry,
                         kms::KmsObserver* observer) {
  auto runtime = std::make_shared<AzureRuntime>();
  RETURN_IF_ERROR(AddIdentities(config, *runtime, observer));
  ASSIGN_OR_RETURN(az::TlsTrust trust,
                   AzureTlsTrust(config.azure->key_vault_tls, "kms.azure.key_vault_tls"));
  ASSIGN_OR_RETURN(
      std::unique_ptr<az::HttpClient> vault_http,
      NewAzureHttpClient(trust, RequestTimeout(*config.azure),
                         static_cast<int>(config.azure->max_concurrent_requests_per_vault)));
  runtime->client = std::make_unique<az::KeyVaultClient>(vault_http.get(), observer);
  runtime->http.push_back(std::move(vault_http));
  az::AzureKmsOptions kms_options;
  kms_options.metadata_ttl = absl::Seconds(config.cache.metadata_ttl_seconds);
  kms_options.unknown_version_ttl = absl::Seconds(config.cache.unknown_version_ttl_seconds);
  auto kms = std::make_unique<az::AzureKms>(runtime->client.get(), kms_options, observer);
  for (size_t i = 0; i < config.keys.size(); ++i) {
    if (config.keys[i].azure_key.empty()) continue;
    ASSIGN_OR_RETURN(az::AzureKeyOptions options, KeyOptions(config, i, *runtime));
    RETURN_IF_ERROR(kms->AddKey(std::move(options)));
  }
  registry->KeepAlive(runtime);
  RETURN_IF_ERROR(registry->AddKms(std::move(kms)));
  for (const KeyBinding& binding : config.keys) {
    if (binding.azure_key.empty()) continue;
    RETURN_IF_ERROR(registry->Bind(binding.alias, crypto::EdekKms::kAzure, binding.azure_key));
  }
  return absl::OkStatus();
}

}  // namespace keybroker::server
