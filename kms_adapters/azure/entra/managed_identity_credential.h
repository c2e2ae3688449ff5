// ManagedIdentityCredential: the Azure managed identity of the VM or node,
// through the Instance Metadata Service (keyvault-protocol.md §9.5):
//
//   GET {endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01
//       &resource={scope without "/.default"}[&client_id={client_id}]
//   Metadata: true
//
// A system-assigned identity when no client id is given, else that
// user-assigned one. Immutable after creation; safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_MANAGED_IDENTITY_CREDENTIAL_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_MANAGED_IDENTITY_CREDENTIAL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kms_adapters/azure/credential.h"
#include "kms_adapters/azure/entra/clock.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

// The link-local address IMDS answers on in every Azure VM.
inline constexpr absl::string_view kDefaultImdsEndpoint = "http://169.254.169.254";

class ManagedIdentityCredential : public Credential {
 public:
  struct Options {
    std::string client_id;  // empty: the system-assigned identity
    std::string endpoint = std::string(kDefaultImdsEndpoint);  // trailing '/' allowed
  };

  // Checks `options`. INVALID_ARGUMENT when the endpoint is not an http(s)
  // URL without path or the client id is not printable ASCII. `http` and
  // `clock` must outlive the credential.
  static absl::StatusOr<std::unique_ptr<ManagedIdentityCredential>> Create(const Options& options,
                                                                           HttpClient* http,
                                                                           const Clock* clock);

  // Asks IMDS for a token for the resource behind `scope`. Errors as
  // Credential::Fetch says (token_response.h has the IMDS specifics).
  absl::StatusOr<AccessToken> Fetch(absl::string_view scope, absl::Time deadline) override;

 private:
  ManagedIdentityCredential(std::string endpoint, std::string client_id, HttpClient* http,
                            const Clock* clock)
      : endpoint_(std::move(endpoint)),
        client_id_(std::move(client_id)),
        http_(http),
        clock_(clock) {}

  const std::string endpoint_;  // no trailing '/'
  const std::string client_id_;
  HttpClient* const http_;
  const Clock* const clock_;
};

// Returns the resource IMDS expects for a v2 `scope`: without "/.default"
// and without a trailing '/' (a token for "https://vault.azure.net/" is
// refused by Key Vault with AKV10022, §1.4).
std::string ResourceForScope(absl::string_view scope);

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_MANAGED_IDENTITY_CREDENTIAL_H_
