// Raising the lowest TLS version the process negotiates to TLS 1.3
// (`tls.min_version: "1.3"`).
//
// gRPC 1.51's C++ TLS credentials have no setting for the minimum version
// (it is fixed at TLS 1.2), so the floor is set where OpenSSL takes it from
// for every new SSL_CTX: the ssl_conf module's "system_default" section,
// loaded here from memory. gRPC sets its context's minimum version to TLS
// 1.2 explicitly, which overrides MinProtocol; "Protocol = -ALL, TLSv1.3"
// turns the older versions off as options, which that call leaves alone
// (tests/integration/secure_defaults_test.cc shows a TLS 1.2 client
// refused). It applies to the whole process, so the broker's own
// connections to Key Vault and Entra ID then need TLS 1.3 too (both offer
// it).
#ifndef KEYBROKER_SERVER_TLS_FLOOR_H_
#define KEYBROKER_SERVER_TLS_FLOOR_H_

#include "absl/status/status.h"

namespace keybroker::server {

// Must run before any TLS context exists (before the server starts).
// INTERNAL if OpenSSL refuses the setting.
absl::Status RaiseTlsFloorToTls13();

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_TLS_FLOOR_H_
