#include "server/config_azure.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace keybroker::server {
namespace {

using Kind = AzureIdentityConfig::Kind;

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

// Reads whichever credential block is present and records its kind.
absl::Status ParseCredentialKind(YamlObject& entry, AzureIdentityConfig* identity) {
  int kinds = 0;
  if (entry.Has("client_secret")) {
    ++kinds;
    identity->kind = Kind::kClientSecret;
  }
  RETURN_IF_ERROR(ParsePasswordFile(entry, "client_secret", &identity->client_secret_file));
  if (entry.Has("client_certificate")) {
    ++kinds;
    identity->kind = Kind::kClientCertificate;
    ASSIGN_OR_RETURN(YamlObject cert, entry.Object("client_certificate"));
    RETURN_IF_ERROR(cert.String("cert_file", &identity->cert_file));
    RETURN_IF_ERROR(cert.String("key_file", &identity->key_file));
    RETURN_IF_ERROR(cert.Finish());
    if (identity->cert_file.empty() || identity->key_file.empty()) {
      return Invalid(entry.PathOf("client_certificate"), "needs cert_file and key_file");
    }
  } else {
    entry.Node("client_certificate");
  }
  if (entry.Has("workload_identity") || entry.Node("workload_identity").IsDefined()) {
    ++kinds;
    identity->kind = Kind::kWorkloadIdentity;
    ASSIGN_OR_RETURN(YamlObject wi, entry.Object("workload_identity"));
    RETURN_IF_ERROR(wi.String("client_id", &identity->workload_client_id));
    RETURN_IF_ERROR(wi.String("tenant_id", &identity->workload_tenant_id));
    RETURN_IF_ERROR(wi.String("token_file", &identity->workload_token_file));
    RETURN_IF_ERROR(wi.String("authority_host", &identity->workload_authority_host));
    RETURN_IF_ERROR(wi.Finish());
  }
  if (entry.Has("managed_identity") || entry.Node("managed_identity").IsDefined()) {
    ++kinds;
    identity->kind = Kind::kManagedIdentity;
    ASSIGN_OR_RETURN(YamlObject mi, entry.Object("managed_identity"));
    RETURN_IF_ERROR(mi.String("client_id", &identity->managed_client_id));
    RETURN_IF_ERROR(mi.String("endpoint", &identity->managed_endpoint));
    RETURN_IF_ERROR(mi.Finish());
  }
  if (kinds != 1) {
    return Invalid(entry.path(), "needs exactly one of client_secret, client_certificate, "
                                     "workload_identity, managed_identity");
  }
  return absl::OkStatus();
}

absl::Status CheckIdentity(YamlObject& entry, const AzureIdentityConfig& identity) {
  bool needs_tenant_and_client =
      identity.kind == Kind::kClientSecret || identity.kind == Kind::kClientCertificate;
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
  RETURN_IF_ERROR(ParseCredentialKind(entry, &identity));
  RETURN_IF_ERROR(entry.String("oauth_endpoint_url", &identity.oauth_endpoint_url));
  RETURN_IF_ERROR(entry.String("scope", &identity.scope));
  RETURN_IF_ERROR(ParseTlsTrust(entry, "tls", &identity.tls));
  RETURN_IF_ERROR(entry.Finish());
  RETURN_IF_ERROR(CheckIdentity(entry, identity));
  return identity;
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
  return azure.Finish();
}

absl::Status ValidateAzureBinding(const Config& config, size_t i) {
  const KeyBinding& binding = config.keys[i];
  std::string path = absl::StrCat("keys[", i, "]");
  if (!config.azure.has_value()) return Invalid(path + ".azure_key", "needs a kms.azure section");
  if (binding.identity.empty()) return Invalid(path + ".identity", "is required for azure_key");
  bool known = false;
  for (const AzureIdentityConfig& identity : config.azure->identities) {
    known = known || identity.name == binding.identity;
  }
  if (!known) {
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
