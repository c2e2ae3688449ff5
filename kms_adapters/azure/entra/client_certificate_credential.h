// ClientCertificateCredential: an Entra ID application authenticating with a
// certificate: each token request carries a fresh JWT assertion signed with
// the certificate's private key (keyvault-protocol.md §9.2; see
// client_assertion.h for its exact form).
//
// Given as files, the certificate and key are read again for the next token
// request once either changes (rotation without restart; a new pair that does
// not belong together is logged and the old one kept: credential_files.h).
// The key file is warned about when others may read it
// (secret_file_permissions.h). Safe for concurrent use. The private key stays
// inside OpenSSL.
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
#include "kms_adapters/azure/entra/credential_files.h"
#include "kms_adapters/azure/entra/token_endpoint.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

class ClientCertificateCredential : public Credential {
 public:
  struct Options {
    std::string tenant_id;
    crypto::SecretBytes client_id;  // as read from its file; whitespace ignored
    // client_certificate.cert_file (PEM, the leaf certificate first) and
    // key_file (PEM, unencrypted RSA, 2048 bits or more), read now and again
    // whenever either changes. The two may be the same combined file.
    std::string certificate_file;
    std::string private_key_file;
    // When both files are empty: their contents, used as they are.
    std::string certificate_pem;
    crypto::SecretBytes private_key_pem;
    std::string authority_host = std::string(kPublicCloudAuthorityHost);
  };

  // Loads the certificate and key and checks that they belong together.
  // INVALID_ARGUMENT naming the field (never key bytes) when anything is
  // unusable (or only one of the two files is given); ReadSecretFile's error
  // when a file cannot be read. `http` and `clock` must outlive the
  // credential.
  static absl::StatusOr<std::unique_ptr<ClientCertificateCredential>> Create(Options options,
                                                                             HttpClient* http,
                                                                             const Clock* clock);

  // POSTs a client-credentials request with an assertion newly signed with
  // the current key. Errors as Credential::Fetch says (INTERNAL if signing
  // fails).
  absl::StatusOr<AccessToken> Fetch(absl::string_view scope, absl::Time deadline) override;

 private:
  // What signs assertions: the private key and its certificate's thumbprint.
  struct Signing {
    crypto::Sha256Digest thumbprint;  // of the certificate's DER
    crypto::RsaPssSigner signer;
  };
  using SigningFiles = CredentialFiles<Signing>;

  // Returns the Signing of a certificate and key that belong together.
  static absl::StatusOr<Signing> LoadSigning(absl::string_view certificate_pem,
                                             const crypto::SecretBytes& private_key_pem);
  static absl::StatusOr<Signing> ReadSigning(const std::string& certificate_file,
                                             const std::string& private_key_file);

  ClientCertificateCredential(std::string token_url, std::string client_id,
                              std::unique_ptr<SigningFiles> signing, HttpClient* http,
                              const Clock* clock)
      : token_url_(std::move(token_url)),
        client_id_(std::move(client_id)),
        signing_(std::move(signing)),
        http_(http),
        clock_(clock) {}

  const std::string token_url_;
  const std::string client_id_;
  const std::unique_ptr<SigningFiles> signing_;
  HttpClient* const http_;
  const Clock* const clock_;
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CLIENT_CERTIFICATE_CREDENTIAL_H_
