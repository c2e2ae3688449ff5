// The calls the key-version tests make on a real broker, one line each:
// GenerateDek, Unwrap, Rewrap and DescribeKey on one alias, under one fixed
// encryption context ({tenant: t1}).
#ifndef KEYBROKER_TESTS_INTEGRATION_KEY_CALLS_H_
#define KEYBROKER_TESTS_INTEGRATION_KEY_CALLS_H_

#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "keybroker/v1/key_broker.grpc.pb.h"
#include "tests/integration/grpc_test_client.h"

namespace keybroker::testing {

// An EDEK and the version it was made under.
struct MadeDek {
  std::string edek, version;
};

class KeyCalls {
 public:
  KeyCalls(v1::KeyBroker::Stub* stub, std::string alias) : stub_(stub), alias_(std::move(alias)) {}

  MadeDek GenerateDek() {
    v1::GenerateDekRequest request;
    request.set_key(alias_);
    (*request.mutable_context())["tenant"] = "t1";
    v1::GenerateDekResponse response;
    grpc::Status status = stub_->GenerateDek(Ctx().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.edek(), response.key_version()};
  }

  grpc::Status Unwrap(const MadeDek& made) {
    v1::UnwrapResponse response;
    return stub_->Unwrap(Ctx().get(), EdekRequest<v1::UnwrapRequest>(made), &response);
  }

  grpc::Status Rewrap(const MadeDek& made) {
    v1::RewrapResponse response;
    return stub_->Rewrap(Ctx().get(), EdekRequest<v1::RewrapRequest>(made), &response);
  }

  // The version current after the rotation ("" when it failed).
  std::string Rotate() {
    v1::RotateRequest request;
    request.set_key(alias_);
    v1::RotateResponse response;
    grpc::Status status = stub_->Rotate(Ctx().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.key_version();
  }

  v1::DescribeKeyResponse Describe() {
    v1::DescribeKeyRequest request;
    request.set_key(alias_);
    v1::DescribeKeyResponse response;
    grpc::Status status = stub_->DescribeKey(Ctx().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

 private:
  template <typename Request>
  static Request EdekRequest(const MadeDek& made) {
    Request request;
    request.set_edek(made.edek);
    (*request.mutable_context())["tenant"] = "t1";
    return request;
  }

  v1::KeyBroker::Stub* stub_;
  std::string alias_;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_KEY_CALLS_H_
