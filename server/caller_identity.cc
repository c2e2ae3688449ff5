#include "server/caller_identity.h"

#include <vector>

#include "absl/strings/match.h"
#include "grpc/grpc_security_constants.h"

namespace keybroker::server {
namespace {

// The first value of `property`, if the peer has one. gRPC lists a
// certificate's SANs of each type in certificate order.
bool FirstValue(const grpc::AuthContext& auth, const char* property, std::string* out) {
  std::vector<grpc::string_ref> values = auth.FindPropertyValues(property);
  if (values.empty() || values.front().empty()) return false;
  out->assign(values.front().data(), values.front().size());
  return true;
}

}  // namespace

std::string CallerIdentity(const grpc::AuthContext* auth, const std::string& peer) {
  std::string identity;
  // IsPeerAuthenticated: the handshake verified a client certificate
  // against the configured client CA.
  if (auth != nullptr && auth->IsPeerAuthenticated() &&
      (FirstValue(*auth, GRPC_PEER_URI_PROPERTY_NAME, &identity) ||
       FirstValue(*auth, GRPC_PEER_DNS_PROPERTY_NAME, &identity) ||
       FirstValue(*auth, GRPC_X509_CN_PROPERTY_NAME, &identity))) {
    return identity;
  }
  if (absl::StartsWith(peer, "unix:")) return kUnixCaller;
  return kAnonymousCaller;
}

}  // namespace keybroker::server
