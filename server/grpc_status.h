// The one place where an absl::Status becomes a grpc::Status.
#ifndef KEYBROKER_SERVER_GRPC_STATUS_H_
#define KEYBROKER_SERVER_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace keybroker::server {

inline constexpr char kErrorDomain[] = "keybroker";

// Returns the gRPC status for `status`: the same code and message, and as
// details a serialized google.rpc.Status holding a google.rpc.ErrorInfo
// (domain "keybroker", reason from the status's payload) and, when the
// status carries a retry delay (KMS_THROTTLED, RATE_LIMITED, SERVER_BUSY,
// KEY_VERSION_NOT_YET_LOADED), a google.rpc.RetryInfo. A status without a
// reason gets the one its code implies (INVALID_ARGUMENT, NOT_FOUND,
// UNAVAILABLE, DEADLINE_EXCEEDED), else INTERNAL under the INTERNAL code.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_GRPC_STATUS_H_
