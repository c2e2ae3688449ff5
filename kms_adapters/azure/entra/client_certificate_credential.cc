#include "kms_adapters/azure/entra/client_certificate_credential.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/x509_certificate.h"
#include "kms_adapters/azure/entra/client_assertion.h"

namespace keybroker::kms::azure {

absl::StatusOr<std::unique_ptr<ClientCertificateCredential>> ClientCertificateCredential::Create(
    Options options, HttpClient* http, const Clock* clock) {
  ASSIGN_OR_RETURN(std::string token_url,
                   TokenEndpointUrl(options.authority_host, options.tenant_id));
  ASSIGN_OR_RETURN(std::string client_id, ParseClientId(options.client_id.RevealAsStringView()));
  absl::StatusOr<crypto::X509Certificate> certificate =
      crypto::X509Certificate::FromPem(options.certificate_pem);
  if (!certificate.ok()) {
    return Annotate(certificate.status(), "entra client certificate cert_file");
  }
  absl::StatusOr<crypto::RsaPssSigner> signer =
      crypto::RsaPssSigner::FromPem(options.private_key_pem);
  if (!signer.ok()) return Annotate(signer.status(), "entra client certificate key_file");
  if (certificate->public_key_der() != signer->public_key_der()) {
    return absl::InvalidArgumentError(
        "entra client certificate: key_file does not hold the certificate's private key");
  }
  return std::unique_ptr<ClientCertificateCredential>(new ClientCertificateCredential(
      std::move(token_url), std::move(client_id), certificate->Sha256Thumbprint(),
      std::move(*signer), http, clock));
}

absl::StatusOr<AccessToken> ClientCertificateCredential::Fetch(absl::string_view scope,
                                                               absl::Time deadline) {
  absl::Time now = clock_->Now();
  absl::StatusOr<crypto::SecretBytes> assertion =
      MakeClientAssertion({token_url_, client_id_, now}, thumbprint_, signer_);
  if (!assertion.ok()) return Annotate(assertion.status(), "entra client assertion");
  const FormField form[] = {
      {"grant_type", "client_credentials"},
      {"client_id", client_id_},
      {"client_assertion_type", kJwtBearerAssertionType},
      {"client_assertion", assertion->RevealAsStringView()},
      {"scope", scope},
  };
  return PostTokenRequest(*http_, token_url_, form, now, deadline);
}

}  // namespace keybroker::kms::azure
