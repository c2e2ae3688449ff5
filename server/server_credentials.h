// The gRPC server's transport credentials from the configuration's `tls`
// section: TLS whose certificate, key and client CA are watched and
// reloaded by gRPC's FileWatcherCertificateProvider (a certificate rotated by
// cert-manager reaches new connections without a restart), mutual when a
// client CA is configured; plaintext only without `tls` (ValidateConfig
// allows that on loopback, unix sockets, or with insecure_plaintext).
#ifndef KEYBROKER_SERVER_SERVER_CREDENTIALS_H_
#define KEYBROKER_SERVER_SERVER_CREDENTIALS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "server/config.h"

namespace keybroker::server {

// Checks the files now (readable, the key belongs to the certificate, the CA
// parses), so that a bad path stops start-up with a message naming the field
// rather than failing every handshake later; the private key read for the
// check is wiped on every path. gRPC reads the files itself afterwards.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const Config& config);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_SERVER_CREDENTIALS_H_
