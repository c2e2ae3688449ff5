// keybrokerctl's error JSON, now built from the SDK's absl::Status: the
// broker's errors print exactly as they did when keybrokerctl decoded the
// gRPC details itself (reason and domain as sent, the retry delay in
// seconds), gRPC's own errors carry code and message only, and local
// keyring errors their reason.
#include "ctl/json_output.h"

#include "client_sdk/src/grpc_status.h"
#include "common/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "server/grpc_status.h"

namespace keybroker::ctl {
namespace {

// What keybrokerctl prints for `broker_error` after it crossed the wire.
Json FromTheWire(const absl::Status& broker_error) {
  return StatusErrorJson(sdk::internal::FromGrpcStatus(server::ToGrpcStatus(broker_error)));
}

TEST(StatusErrorJsonTest, BrokerErrorsCarryReasonAndDomain) {
  EXPECT_EQ(FromTheWire(KeyNotFound("key alias 'nosuch' is not configured")).dump(),
            R"({"error":{"code":"NOT_FOUND","message":"key alias 'nosuch' is not configured",)"
            R"("reason":"KEY_NOT_FOUND","domain":"keybroker"}})");
}

TEST(StatusErrorJsonTest, RetryDelayIsInSecondsWholeOrNot) {
  absl::Status throttled = MakeError(ErrorReason::kKmsThrottled, "throttled");
  SetRetryDelay(throttled, absl::Milliseconds(1500));
  EXPECT_EQ(FromTheWire(throttled).dump(),
            R"({"error":{"code":"RESOURCE_EXHAUSTED","message":"throttled",)"
            R"("reason":"KMS_THROTTLED","domain":"keybroker","retry_delay_seconds":1.5}})");
  SetRetryDelay(throttled, absl::Seconds(2));
  EXPECT_EQ(FromTheWire(throttled)["error"]["retry_delay_seconds"].dump(), "2");
}

TEST(StatusErrorJsonTest, AnyErrorInfoIsPrintedAsSent) {
  google::rpc::ErrorInfo info;
  info.set_reason("SOME_FUTURE_REASON");
  info.set_domain("proxy.example");
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::PERMISSION_DENIED);
  details.add_details()->PackFrom(info);
  absl::Status status = sdk::internal::FromGrpcStatus(grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED, "denied", details.SerializeAsString()));
  EXPECT_EQ(StatusErrorJson(status).dump(),
            R"({"error":{"code":"PERMISSION_DENIED","message":"denied",)"
            R"("reason":"SOME_FUTURE_REASON","domain":"proxy.example"}})");
}

TEST(StatusErrorJsonTest, GrpcsOwnErrorsHaveCodeAndMessageOnly) {
  absl::Status refused = sdk::internal::FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"));
  EXPECT_EQ(StatusErrorJson(refused).dump(),
            R"({"error":{"code":"UNAVAILABLE","message":"failed to connect"}})");
}

TEST(StatusErrorJsonTest, LocalErrorsCarryTheirReason) {
  EXPECT_EQ(StatusErrorJson(KeyNotFound("no key beta in the keyring")).dump(),
            R"({"error":{"code":"NOT_FOUND","message":"no key beta in the keyring",)"
            R"("reason":"KEY_NOT_FOUND"}})");
  EXPECT_EQ(StatusErrorJson(absl::AlreadyExistsError("exists")).dump(),
            R"({"error":{"code":"ALREADY_EXISTS","message":"exists"}})");
}

}  // namespace
}  // namespace keybroker::ctl
