#include "server/server_credentials.h"

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/file_util.h"
#include "common/secret_file_permissions.h"
#include "common/status_macros.h"
#include "crypto/secret_file.h"
#include "crypto/x509_certificate.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "server/tls_floor.h"

namespace keybroker::server {
namespace {

constexpr size_t kMaxPemSize = 1 << 20;

absl::Status Field(const absl::Status& status, absl::string_view field) {
  return Annotate(status, absl::StrCat("tls.", field));
}

absl::Status CheckFiles(const TlsConfig& tls) {
  std::string cert_pem;
  absl::Status read = ReadFileInto(tls.cert_file, kMaxPemSize, &cert_pem);
  if (!read.ok()) return Field(read, "cert_file");
  absl::StatusOr<crypto::X509Certificate> cert = crypto::X509Certificate::FromPem(cert_pem);
  if (!cert.ok()) return Field(cert.status(), "cert_file");
  WarnIfSecretFileExposed(tls.key_file, "TLS private key");
  // SecretBytes: the key's bytes are wiped when this scope ends, however.
  absl::StatusOr<crypto::SecretBytes> key = crypto::ReadSecretFile(tls.key_file, kMaxPemSize);
  if (!key.ok()) return Field(key.status(), "key_file");
  absl::Status matches = cert->CheckPrivateKeyMatches(key->RevealAsStringView());
  if (!matches.ok()) return Field(matches, "key_file");
  if (!tls.client_ca_file.empty()) {
    std::string ca_pem;
    read = ReadFileInto(tls.client_ca_file, kMaxPemSize, &ca_pem);
    if (!read.ok()) return Field(read, "client_ca_file");
    absl::StatusOr<crypto::X509Certificate> ca = crypto::X509Certificate::FromPem(ca_pem);
    if (!ca.ok()) return Field(ca.status(), "client_ca_file");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const Config& config) {
  if (!config.tls.has_value()) return grpc::InsecureServerCredentials();
  const TlsConfig& tls = *config.tls;
  RETURN_IF_ERROR(CheckFiles(tls));
  if (tls.min_version == "1.3") RETURN_IF_ERROR(RaiseTlsFloorToTls13());
  // gRPC's TLS stack never negotiates below TLS 1.2: "1.2" needs nothing.
  const bool mutual = !tls.client_ca_file.empty();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, mutual ? tls.client_ca_file : "",
      static_cast<unsigned int>(tls.reload_interval_seconds));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (mutual) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace keybroker::server
