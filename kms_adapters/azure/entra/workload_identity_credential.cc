#include "kms_adapters/azure/entra/workload_identity_credential.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/secret_bytes.h"
#include "crypto/secret_file.h"
#include "kms_adapters/azure/entra/token_endpoint.h"

namespace keybroker::kms::azure {
namespace {

// Projected service-account tokens are a few kilobytes.
constexpr size_t kMaxTokenFileSize = 64 * 1024;

std::optional<std::string> ProcessGetenv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

void FillField(std::string& field, const char* variable,
               const WorkloadIdentityCredential::Getenv& getenv) {
  if (!field.empty()) return;
  std::optional<std::string> value = getenv(variable);
  if (value.has_value()) field = std::move(*value);
}

absl::StatusOr<crypto::SecretBytes> ReadAssertion(const std::string& path) {
  absl::StatusOr<crypto::SecretBytes> contents = crypto::ReadSecretFile(path, kMaxTokenFileSize);
  if (!contents.ok()) return contents.status();
  return TrimSecret(*contents, "federated token file");
}

}  // namespace

void WorkloadIdentityCredential::FillFromEnvironment(Options& options, const Getenv& getenv) {
  Getenv lookup = getenv ? getenv : Getenv(ProcessGetenv);
  FillField(options.client_id, "AZURE_CLIENT_ID", lookup);
  FillField(options.tenant_id, "AZURE_TENANT_ID", lookup);
  FillField(options.token_file, "AZURE_FEDERATED_TOKEN_FILE", lookup);
  FillField(options.authority_host, "AZURE_AUTHORITY_HOST", lookup);
}

absl::StatusOr<std::unique_ptr<WorkloadIdentityCredential>> WorkloadIdentityCredential::Create(
    const Options& options, HttpClient* http, const Clock* clock) {
  const std::pair<const std::string*, const char*> required[] = {
      {&options.client_id, "client_id (AZURE_CLIENT_ID)"},
      {&options.tenant_id, "tenant_id (AZURE_TENANT_ID)"},
      {&options.token_file, "token_file (AZURE_FEDERATED_TOKEN_FILE)"},
      {&options.authority_host, "authority_host (AZURE_AUTHORITY_HOST)"},
  };
  for (const auto& [value, name] : required) {
    if (value->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("workload identity: ", name, " is not set"));
    }
  }
  ASSIGN_OR_RETURN(std::string token_url,
                   TokenEndpointUrl(options.authority_host, options.tenant_id));
  ASSIGN_OR_RETURN(std::string client_id, ParseClientId(options.client_id));
  // Read once now so that a wrong path fails at start, not at the first call.
  absl::StatusOr<crypto::SecretBytes> assertion = ReadAssertion(options.token_file);
  if (!assertion.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("workload identity: federated token file ",
                                                   options.token_file, ": ",
                                                   assertion.status().message()));
  }
  return std::unique_ptr<WorkloadIdentityCredential>(new WorkloadIdentityCredential(
      std::move(token_url), std::move(client_id), options.token_file, http, clock));
}

absl::StatusOr<AccessToken> WorkloadIdentityCredential::Fetch(absl::string_view scope,
                                                              absl::Time deadline) {
  absl::StatusOr<crypto::SecretBytes> assertion = ReadAssertion(token_file_);
  if (!assertion.ok()) {
    // The pod's projected token is the broker's own credential (its mount,
    // the kubelet's rotation): a service fault, whatever the key.
    return MakeError(ErrorReason::kKmsUnavailable,
                     absl::StrCat("workload identity: cannot read federated token file ",
                                  token_file_, ": ", assertion.status().message()));
  }
  const FormField form[] = {
      {"grant_type", "client_credentials"},
      {"client_id", client_id_},
      {"client_assertion_type", kJwtBearerAssertionType},
      {"client_assertion", assertion->RevealAsStringView()},
      {"scope", scope},
  };
  return PostTokenRequest(*http_, token_url_, form, clock_->Now(), deadline);
}

}  // namespace keybroker::kms::azure
