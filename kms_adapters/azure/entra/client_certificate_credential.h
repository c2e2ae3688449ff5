// ClientCertificateCredential: an Entra ID application authenticating with a
// certificate: each token request carries a fresh JWT assertion signed with
// the certificate's private key (keyvault-protocol.md §9.2; see
// client_assertion.h for its exact form).
//
// The certificate and key are loaded once, at creation: replacing the files
// needs a restart (or a new credential). Immutable after creation; safe for
// concurrent use. The private key stays inside OpenSSL.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_CERTIFICATE_CREDENTIAL_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_CERTIFICATE_CREDENTIAL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/hmac.h"
#include "crypto/rsa_pss_sign.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/azure/credential.h"
#include "kms_adapters/azure/entra/clock.h"
#include "kms_adapters/azure/entra/token_endpoint.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

class ClientCertificateCredential : public Credential {
 public:
  struct Options {
    std::string tenant_id;
    crypto::SecretBytes client_id;  // as read from its file; whitespace ignored
    // PEM contents of client_certificate.cert_file (the leaf certificate
    // first) and key_file (unencrypted RSA, 2048 bits or more). The two may
    // be the same combined file.
    std::string certificate_pem;
    crypto::SecretBytes private_key_pem;
    std::string authority_host = std::string(kPublicCloudAuthorityHost);
  };

  // Loads the certificate and key and checks that they belong together.
  // INVALID_ARGUMENT naming the field (never key bytes) when anything is
  // unusable. `http` and `clock` must outlive the credential.
  static absl::StatusOr<std::unique_ptr<ClientCertificateCredential>> Create(Options options,
                                                                             HttpClient* http,
                                                                             const Clock* clock);

  // POSTs a client-credentials request with a newly signed assertion.
  // Errors as Credential::Fetch says (INTERNAL if signing fails).
  absl::StatusOr<AccessToken> Fetch(absl::string_view scope, absl::Time deadline) override;

 private:
  ClientCertificateCredential(std::string token_url, std::string client_id,
                              crypto::Sha256Digest thumbprint, crypto::RsaPssSigner signer,
                              HttpClient* http, const Clock* clock)
      : token_url_(std::move(token_url)),
        client_id_(std::move(client_id)),
        thumbprint_(thumbprint),
        signer_(std::move(signer)),
        http_(http),
        clock_(clock) {}

  const std::string token_url_;
  const std::string client_id_;
  const crypto::Sha256Digest thumbprint_;  // of the certificate's DER
  const crypto::RsaPssSigner signer_;
  HttpClient* const http_;
  const Clock* const clock_;
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_CERTIFICATE_CREDENTIAL_H_
