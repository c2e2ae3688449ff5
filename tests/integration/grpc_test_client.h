// Helpers for driving a real broker over a real gRPC channel: a stub for an
// address, and the ErrorInfo reason decoded from a failed call's
// grpc-status-details-bin, as any gRPC client would.
#ifndef KEYBROKER_TESTS_INTEGRATION_GRPC_TEST_CLIENT_H_
#define KEYBROKER_TESTS_INTEGRATION_GRPC_TEST_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "keybroker/v1/key_broker.grpc.pb.h"

namespace keybroker::testing {

inline std::unique_ptr<v1::KeyBroker::Stub> NewStub(const std::string& address) {
  return v1::KeyBroker::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// The ErrorInfo.reason in `status`'s details, or "" when there is none.
inline std::string GrpcReasonOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "";
  for (const auto& detail : details.details()) {
    google::rpc::ErrorInfo info;
    if (detail.UnpackTo(&info)) return info.reason();
  }
  return "";
}

// A client context with a deadline, so that a hung broker fails the test.
inline std::unique_ptr<grpc::ClientContext> Ctx(std::chrono::seconds timeout =
                                                     std::chrono::seconds(10)) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

// Opens a WatchKeys stream of `keys` on `context` (which must outlive it).
inline std::unique_ptr<grpc::ClientReader<v1::KeyEvent>> OpenWatch(
    v1::KeyBroker::Stub* stub, grpc::ClientContext* context,
    const std::vector<std::string>& keys) {
  v1::WatchKeysRequest request;
  for (const std::string& key : keys) request.add_keys(key);
  return stub->WatchKeys(context, request);
}

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_GRPC_TEST_CLIENT_H_
