#include "server/azure_kms_factory.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "kms_adapters/azure/azure_kms.h"
#include "kms_adapters/azure/entra/token_cache.h"
#include "kms_adapters/azure/key_vault_client.h"
#include "server/azure_cached_tokens.h"
#include "server/azure_credentials.h"
#include "server/azure_http_stack.h"
#include "server/azure_key_sources.h"
#include "server/azure_tls_trust.h"

namespace keybroker::server {
namespace {

namespace az = kms::azure;

absl::Duration RequestTimeout(const AzureConfig& azure) {
  return absl::Seconds(azure.request_timeout_seconds);
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
    ASSIGN_OR_RETURN(std::unique_ptr<az::Credential> credential,
                     NewAzureCredential(identity, config.keys, config.azure->key_sources,
                                        http.get()));
    runtime.http.push_back(std::move(http));
    az::TokenCache::Options cache_options;
    cache_options.observer = observer;
    runtime.tokens[identity.name] = std::make_unique<CachedTokens>(std::make_unique<az::TokenCache>(
        identity.name, std::move(credential), az::SystemClock(), cache_options));
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
  options.scope = AzureScopeFor(*identity, options.kind, id->host);
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
  std::map<std::string, az::TokenProvider*> tokens;
  for (const auto& [name, cached] : runtime->tokens) tokens[name] = cached.get();
  kms_options.key_sources = NewKeySourceResolver(*config.azure, tokens);
  kms_options.max_runtime_keys = static_cast<size_t>(config.azure->max_runtime_keys);
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
