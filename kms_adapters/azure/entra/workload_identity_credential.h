// WorkloadIdentityCredential: Azure AD workload identity on Kubernetes
// (keyvault-protocol.md §9.3). The pod's projected service-account token is
// the client assertion of a client-credentials request; Entra ID trusts it
// through the application's federated identity credential.
//
// The token file is read again for every request: the kubelet rotates it
// (default lifetime one hour), so a copy kept in memory would go stale.
// Immutable after creation; safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_WORKLOAD_IDENTITY_CREDENTIAL_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_WORKLOAD_IDENTITY_CREDENTIAL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kms_adapters/azure/credential.h"
#include "kms_adapters/azure/entra/clock.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

class WorkloadIdentityCredential : public Credential {
 public:
  // All four are required by Create; FillFromEnvironment supplies those the
  // configuration leaves empty from the variables the workload-identity
  // webhook injects into the pod.
  struct Options {
    std::string client_id;       // AZURE_CLIENT_ID
    std::string tenant_id;       // AZURE_TENANT_ID
    std::string token_file;      // AZURE_FEDERATED_TOKEN_FILE
    std::string authority_host;  // AZURE_AUTHORITY_HOST, may end with '/'
  };

  // Reads environment variable `name`; nullopt when unset.
  using Getenv = std::function<std::optional<std::string>(const char* name)>;

  // Fills each empty field of `options` from its AZURE_* variable (read with
  // `getenv`; the process environment when null). Set fields are kept.
  static void FillFromEnvironment(Options& options, const Getenv& getenv = nullptr);

  // Checks `options` (all set, the token file readable) and returns the
  // credential. INVALID_ARGUMENT naming the missing field and its variable,
  // or the unreadable file. `http` and `clock` must outlive the credential.
  static absl::StatusOr<std::unique_ptr<WorkloadIdentityCredential>> Create(const Options& options,
                                                                            HttpClient* http,
                                                                            const Clock* clock);

  // Reads the token file and POSTs it as the client assertion. Errors as
  // Credential::Fetch says; an unreadable or empty token file is
  // KMS_UNAVAILABLE (the pod's own identity is not usable: a service fault).
  absl::StatusOr<AccessToken> Fetch(absl::string_view scope, absl::Time deadline) override;

 private:
  WorkloadIdentityCredential(std::string token_url, std::string client_id, std::string token_file,
                             HttpClient* http, const Clock* clock)
      : token_url_(std::move(token_url)),
        client_id_(std::move(client_id)),
        token_file_(std::move(token_file)),
        http_(http),
        clock_(clock) {}

  const std::string token_url_;
  const std::string client_id_;
  const std::string token_file_;
  HttpClient* const http_;
  const Clock* const clock_;
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_WORKLOAD_IDENTITY_CREDENTIAL_H_
