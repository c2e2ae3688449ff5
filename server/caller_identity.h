// Who is calling: the identity authorization rules and audit lines name.
//
// - mutual TLS: the client certificate's first URI SAN (a SPIFFE ID such as
//   spiffe://cluster.local/ns/kafka/sa/proxy), else its first DNS SAN, else
//   its subject CN;
// - a unix-socket caller without one: "unix" (whoever may open the socket, which the
//   broker creates 0660);
// - anyone else (plaintext TCP, TLS without a client certificate):
//   "anonymous".
//
// Stateless; safe for concurrent use.
#ifndef KEYBROKER_SERVER_CALLER_IDENTITY_H_
#define KEYBROKER_SERVER_CALLER_IDENTITY_H_

#include <string>

#include "grpcpp/security/auth_context.h"

namespace keybroker::server {

inline constexpr char kUnixCaller[] = "unix";
inline constexpr char kAnonymousCaller[] = "anonymous";

// The identity of the peer of a call, from its auth context (may be null)
// and its peer address (grpc::ServerContext::peer()).
std::string CallerIdentity(const grpc::AuthContext* auth, const std::string& peer);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_CALLER_IDENTITY_H_
