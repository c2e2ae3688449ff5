// The one place in the SDK where a grpc::Status becomes an absl::Status: the
// inverse of server/grpc_status.h's ToGrpcStatus. Its .cc also defines the
// public ErrorInfoOf (keybroker/sdk/error_info.h), which reads back what
// FromGrpcStatus attached. Stateless and thread-safe.
#ifndef KEYBROKER_CLIENT_SDK_SRC_GRPC_STATUS_H_
#define KEYBROKER_CLIENT_SDK_SRC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace keybroker::sdk::internal {

// Returns `status` as an absl::Status with the same code and message. From the
// serialized google.rpc.Status in its details it takes the google.rpc.ErrorInfo
// of domain "keybroker", attached as keybroker::MakeError does (so
// keybroker::ReasonOf finds it), and a google.rpc.RetryInfo delay (found by
// keybroker::RetryDelayOf). A reason this version does not know, or one that
// does not go with the code, is left out and the code kept; details that do
// not parse are ignored, as are errors gRPC makes itself (UNAVAILABLE,
// DEADLINE_EXCEEDED), which carry none. Every ErrorInfo, whatever its domain
// and reason, is also kept as sent, for ErrorInfoOf.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_GRPC_STATUS_H_
