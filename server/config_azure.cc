#include "server/config_azure.h"

#include <initializer_list>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace keybroker::server {
namespace {

absl::Status Invalid(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, " ", what));
}

// Reads {password_file: PATH} at `key` (a secret, or the client id, kept in a
// file so that it never sits in the configuration itself).
absl::Status ParsePasswordFile(YamlObject& parent, const std::string& key, std::string* out) {
  if (!parent.Has(key)) {
    parent.Node(key);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(YamlObject ref, parent.Object(key));
  RETURN_IF_ERROR(ref.String("password_file", out));
  RETURN_IF_ERROR(ref.Finish());
  if (out->empty()) return Invalid(ref.PathOf("password_file"), "is required");
  return absl::OkStatus();
}

// Each Parse* below adds its kind to `found` when the identity has its block.

absl::Status ParseClientSecret(YamlObject& entry, std::vector<AzureCredentialConfig>* found) {
  ClientSecretCredentialConfig secret;
  RETURN_IF_ERROR(ParsePasswordFile(entry, "client_secret", &secret.client_secret_file));
  if (entry.Has("client_secret")) found->push_back(std::move(secret));
  return absl::OkStatus();
}

absl::Status ParseClientCertificate(YamlObject& entry, std::vector<AzureCredentialConfig>* found) {
  if (!entry.Has("client_certificate")) {
    entry.Node("client_certificate");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(YamlObject block, entry.Object("client_certificate"));
  ClientCertificateCredentialConfig cert;
  RETURN_IF_ERROR(block.String("cert_file", &cert.cert_file));
  RETURN_IF_ERROR(block.String("key_file", &cert.key_file));
  RETURN_IF_ERROR(block.Finish());
  if (cert.cert_file.empty() || cert.key_file.empty()) {
    return Invalid(entry.PathOf("client_certificate"), "needs cert_file and key_file");
  }
  found->push_back(std::move(cert));
  return absl::OkStatus();
}

// Reads the block at `key`, whose fields are all optional strings; false when
// the identity has no such block. Unlike a bare `client_secret:` or
// `client_certificate:` (null), which is accepted and ignored, a bare
// `workload_identity:` or `managed_identity:` counts: none of their fields is
// required.
absl::StatusOr<bool> ParseOptionalStrings(
    YamlObject& entry, const std::string& key,
    std::initializer_list<std::pair<const char*, std::string*>> fields) {
  if (!entry.Has(key) && !entry.Node(key).IsDefined()) return false;
  ASSIGN_OR_RETURN(YamlObject block, entry.Object(key));
  for (const auto& [name, out] : fields) RETURN_IF_ERROR(block.String(name, out));
  RETURN_IF_ERROR(block.Finish());
  return true;
}

absl::Status ParseWorkloadIdentity(YamlObject& entry, std::vector<AzureCredentialConfig>* found) {
  WorkloadIdentityCredentialConfig workload;
  ASSIGN_OR_RETURN(bool present,
                   ParseOptionalStrings(entry, "workload_identity",
                                        {{"client_id", &workload.client_id},
                                         {"tenant_id", &workload.tenant_id},
                                         {"token_file", &workload.token_file},
                                         {"authority_host", &workload.authority_host}}));
  if (present) found->push_back(std::move(workload));
  return absl::OkStatus();
}

absl::Status ParseManagedIdentity(YamlObject& entry, std::vector<AzureCredentialConfig>* found) {
  ManagedIdentityCredentialConfig managed;
  ASSIGN_OR_RETURN(bool present, ParseOptionalStrings(entry, "managed_identity",
                                                      {{"client_id", &managed.client_id},
                                                       {"endpoint", &managed.endpoint}}));
  if (present) found->push_back(std::move(managed));
  return absl::OkStatus();
}

// Every block is read before the count is checked, so an error inside one is
// reported before "needs exactly one of".
absl::Status ParseCredential(YamlObject& entry, AzureIdentityConfig* identity) {
  std::vector<AzureCredentialConfig> found;
  RETURN_IF_ERROR(ParseClientSecret(entry, &found));
  RETURN_IF_ERROR(ParseClientCertificate(entry, &found));
  RETURN_IF_ERROR(ParseWorkloadIdentity(entry, &found));
  RETURN_IF_ERROR(ParseManagedIdentity(entry, &found));
  if (found.size() != 1) {
    return Invalid(entry.path(), "needs exactly one of client_secret, client_certificate, "
                                     "workload_identity, managed_identity");
  }
  identity->credential = std::move(found.front());
  return absl::OkStatus();
}

absl::Status CheckIdentity(YamlObject& entry, const AzureIdentityConfig& identity) {
  bool needs_tenant_and_client =
      std::holds_alternative<ClientSecretCredentialConfig>(identity.credential) ||
      std::holds_alternative<ClientCertificateCredentialConfig>(identity.credential);
  if (needs_tenant_and_client && identity.tenant_id.empty()) {
    return Invalid(entry.PathOf("tenant_id"), "is required");
  }
  if (needs_tenant_and_client && identity.client_id_file.empty()) {
    return Invalid(entry.PathOf("client_id"), "is required ({password_file: ...})");
  }
  return absl::OkStatus();
}

absl::StatusOr<AzureIdentityConfig> ParseIdentity(YamlObject& identities, const std::string& name) {
  ASSIGN_OR_RETURN(YamlObject entry, identities.Object(name));
  AzureIdentityConfig identity;
  identity.name = name;
  RETURN_IF_ERROR(entry.String("tenant_id", &identity.tenant_id));
  RETURN_IF_ERROR(ParsePasswordFile(entry, "client_id", &identity.client_id_file));
  RETURN_IF_ERROR(ParseCredential(entry, &identity));
  RETURN_IF_ERROR(entry.String("oauth_endpoint_url", &identity.oauth_endpoint_url));
  RETURN_IF_ERROR(entry.String("scope", &identity.scope));
  RETURN_IF_ERROR(ParseTlsTrust(entry, "tls", &identity.tls));
  RETURN_IF_ERROR(entry.Finish());
  RETURN_IF_ERROR(CheckIdentity(entry, identity));
  return identity;
}

bool KnownIdentity(const AzureConfig& azure, const std::string& name) {
  for (const AzureIdentityConfig& identity : azure.identities) {
    if (identity.name == name) return true;
  }
  return false;
}

// A glob of wildcards and dots alone ("*", "*.*") would let a caller send the
// identity's tokens to any host it names.
bool MatchesAnyHost(absl::string_view glob) {
  return glob.find_first_not_of("*?.") == absl::string_view::npos;
}

absl::StatusOr<AzureKeySourceConfig> ParseKeySource(const YAML::Node& node,
                                                    const std::string& path,
                                                    const AzureConfig& azure) {
  ASSIGN_OR_RETURN(YamlObject entry, YamlObject::Of(node, path));
  AzureKeySourceConfig source;
  RETURN_IF_ERROR(entry.StringList("vaults", &source.vaults));
  RETURN_IF_ERROR(entry.String("identity", &source.identity));
  RETURN_IF_ERROR(entry.Finish());
  if (source.vaults.empty()) {
    return Invalid(entry.PathOf("vaults"), "must name at least one host glob");
  }
  for (size_t i = 0; i < source.vaults.size(); ++i) {
    if (MatchesAnyHost(source.vaults[i])) {
      return Invalid(absl::StrCat(entry.PathOf("vaults"), "[", i, "]"),
                     "must name a domain (e.g. \"*.vault.azure.net\"), not match any host");
    }
  }
  if (source.identity.empty()) return Invalid(entry.PathOf("identity"), "is required");
  if (!KnownIdentity(azure, source.identity)) {
    return Invalid(entry.PathOf("identity"),
                   absl::StrCat("'", source.identity, "' is not in kms.azure.identities"));
  }
  return source;
}

absl::Status ParseKeySources(YamlObject& azure, AzureConfig* out) {
  YAML::Node sources = azure.Node("key_sources");
  if (!sources.IsDefined() || sources.IsNull()) return absl::OkStatus();
  if (!sources.IsSequence()) return Invalid(azure.PathOf("key_sources"), "must be a list");
  for (size_t i = 0; i < sources.size(); ++i) {
    ASSIGN_OR_RETURN(AzureKeySourceConfig source,
                     ParseKeySource(sources[i],
                                    absl::StrCat(azure.PathOf("key_sources"), "[", i, "]"), *out));
    out->key_sources.push_back(std::move(source));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseTlsTrust(YamlObject& parent, const std::string& key, TlsTrustConfig* out) {
  if (!parent.Has(key)) {
    parent.Node(key);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(YamlObject tls, parent.Object(key));
  RETURN_IF_ERROR(tls.String("ca_file", &out->ca_file));
  RETURN_IF_ERROR(tls.Bool("insecure_skip_verify", &out->insecure_skip_verify));
  return tls.Finish();
}

absl::Status ParseAzureSection(YamlObject& kms, AzureConfig* out) {
  ASSIGN_OR_RETURN(YamlObject azure, kms.Object("azure"));
  RETURN_IF_ERROR(ParseTlsTrust(azure, "key_vault_tls", &out->key_vault_tls));
  RETURN_IF_ERROR(azure.PositiveInt("request_timeout_seconds", &out->request_timeout_seconds));
  RETURN_IF_ERROR(azure.PositiveInt("max_concurrent_requests_per_vault",
                                    &out->max_concurrent_requests_per_vault));
  ASSIGN_OR_RETURN(YamlObject identities, azure.Object("identities"));
  YAML::Node node = azure.Node("identities");
  if (node.IsMap()) {
    for (const auto& entry : node) {
      ASSIGN_OR_RETURN(AzureIdentityConfig identity,
                       ParseIdentity(identities, entry.first.Scalar()));
      out->identities.push_back(std::move(identity));
    }
  }
  RETURN_IF_ERROR(ParseKeySources(azure, out));
  RETURN_IF_ERROR(azure.PositiveInt("max_runtime_keys", &out->max_runtime_keys));
  return azure.Finish();
}

absl::Status ValidateAzureBinding(const Config& config, size_t i) {
  const KeyBinding& binding = config.keys[i];
  std::string path = absl::StrCat("keys[", i, "]");
  if (!config.azure.has_value()) return Invalid(path + ".azure_key", "needs a kms.azure section");
  if (binding.identity.empty()) return Invalid(path + ".identity", "is required for azure_key");
  if (!KnownIdentity(*config.azure, binding.identity)) {
    return Invalid(path + ".identity",
                   absl::StrCat("'", binding.identity, "' is not in kms.azure.identities"));
  }
  if (!binding.vault_kind.empty() && binding.vault_kind != "vault" &&
      binding.vault_kind != "managed_hsm") {
    return Invalid(path + ".vault_kind", "must be vault or managed_hsm");
  }
  return absl::OkStatus();
}

}  // namespace keybroker::server
