#include "kms_adapters/azure/entra/client_certificate_credential.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/secret_file_permissions.h"
#include "common/status_macros.h"
#include "crypto/secret_file.h"
#include "crypto/x509_certificate.h"
#include "kms_adapters/azure/entra/client_assertion.h"

namespace keybroker::kms::azure {
namespace {

constexpr char kWhat[] = "entra client certificate";
constexpr char kCertField[] = "entra client certificate cert_file";
constexpr char kKeyField[] = "entra client certificate key_file";

}  // namespace

absl::StatusOr<ClientCertificateCredential::Signing> ClientCertificateCredential::LoadSigning(
    absl::string_view certificate_pem, const crypto::SecretBytes& private_key_pem) {
  absl::StatusOr<crypto::X509Certificate> certificate =
      crypto::X509Certificate::FromPem(certificate_pem);
  if (!certificate.ok()) return Annotate(certificate.status(), kCertField);
  absl::StatusOr<crypto::RsaPssSigner> signer = crypto::RsaPssSigner::FromPem(private_key_pem);
  if (!signer.ok()) return Annotate(signer.status(), kKeyField);
  if (certificate->public_key_der() != signer->public_key_der()) {
    return absl::InvalidArgumentError(
        "entra client certificate: key_file does not hold the certificate's private key");
  }
  return Signing{certificate->Sha256Thumbprint(), *std::move(signer)};
}

absl::StatusOr<ClientCertificateCredential::Signing> ClientCertificateCredential::ReadSigning(
    const std::string& certificate_file, const std::string& private_key_file) {
  absl::StatusOr<crypto::SecretBytes> certificate = crypto::ReadSecretFile(certificate_file);
  if (!certificate.ok()) return Annotate(certificate.status(), kCertField);
  WarnIfSecretFileExposed(private_key_file, "entra client certificate key");
  absl::StatusOr<crypto::SecretBytes> key = crypto::ReadSecretFile(private_key_file);
  if (!key.ok()) return Annotate(key.status(), kKeyField);
  return LoadSigning(certificate->RevealAsStringView(), *key);
}

absl::StatusOr<std::unique_ptr<ClientCertificateCredential>> ClientCertificateCredential::Create(
    Options options, HttpClient* http, const Clock* clock) {
  ASSIGN_OR_RETURN(std::string token_url,
                   TokenEndpointUrl(options.authority_host, options.tenant_id));
  ASSIGN_OR_RETURN(std::string client_id, ParseClientId(options.client_id.RevealAsStringView()));
  std::string cert_file = options.certificate_file, key_file = options.private_key_file;
  std::unique_ptr<SigningFiles> signing;
  if (cert_file.empty() && key_file.empty()) {
    ASSIGN_OR_RETURN(Signing fixed, LoadSigning(options.certificate_pem, options.private_key_pem));
    signing = SigningFiles::Fixed(std::move(fixed));
  } else if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError(
        "entra client certificate: give both cert_file and key_file");
  } else {
    ASSIGN_OR_RETURN(signing, SigningFiles::Load({cert_file, key_file}, kWhat,
                                                 [cert_file, key_file] {
                                                   return ReadSigning(cert_file, key_file);
                                                 }));
  }
  return std::unique_ptr<ClientCertificateCredential>(new ClientCertificateCredential(
      std::move(token_url), std::move(client_id), std::move(signing), http, clock));
}

absl::StatusOr<AccessToken> ClientCertificateCredential::Fetch(absl::string_view scope,
                                                               absl::Time deadline) {
  absl::Time now = clock_->Now();
  std::shared_ptr<const Signing> signing = signing_->Current();
  absl::StatusOr<crypto::SecretBytes> assertion =
      MakeClientAssertion({token_url_, client_id_, now}, signing->thumbprint, signing->signer);
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
