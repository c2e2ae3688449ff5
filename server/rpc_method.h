// The KeyBroker RPCs, as a closed set for metrics labels and audit lines.
#ifndef KEYBROKER_SERVER_RPC_METHOD_H_
#define KEYBROKER_SERVER_RPC_METHOD_H_

#include "absl/strings/string_view.h"

namespace keybroker::server {

// WatchKeys is the one server-streaming RPC: counted when its stream ends, and
// authorized as DescribeKey (it is not a method authorization rules name).
enum class RpcMethod { kGenerateDek, kWrap, kUnwrap, kRotate, kRewrap, kDescribeKey, kWatchKeys };
inline constexpr int kRpcMethodCount = 7;

// The method's name in the proto, e.g. "GenerateDek".
inline absl::string_view RpcMethodName(RpcMethod method) {
  switch (method) {
    case RpcMethod::kGenerateDek: return "GenerateDek";
    case RpcMethod::kWrap: return "Wrap";
    case RpcMethod::kUnwrap: return "Unwrap";
    case RpcMethod::kRotate: return "Rotate";
    case RpcMethod::kRewrap: return "Rewrap";
    case RpcMethod::kDescribeKey: return "DescribeKey";
    case RpcMethod::kWatchKeys: return "WatchKeys";
  }
  return "unknown";
}

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_RPC_METHOD_H_
