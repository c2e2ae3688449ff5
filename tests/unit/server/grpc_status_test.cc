#include "server/grpc_status.h"

#include "common/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace keybroker::server {
namespace {

struct Decoded {
  google::rpc::Status status;
  google::rpc::ErrorInfo info;
  bool has_retry = false;
  google::rpc::RetryInfo retry;
};

Decoded Decode(const grpc::Status& status) {
  Decoded decoded;
  EXPECT_TRUE(decoded.status.ParseFromString(status.error_details()));
  for (const auto& detail : decoded.status.details()) {
    if (detail.Is<google::rpc::ErrorInfo>()) EXPECT_TRUE(detail.UnpackTo(&decoded.info));
    if (detail.Is<google::rpc::RetryInfo>()) {
      decoded.has_retry = detail.UnpackTo(&decoded.retry);
    }
  }
  return decoded;
}

TEST(GrpcStatusTest, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(GrpcStatusTest, EveryReasonKeepsItsCodeAndTravelsInErrorInfo) {
  for (ErrorReason reason :
       {ErrorReason::kKeyNotAccessible, ErrorReason::kKeyDisabled, ErrorReason::kKeyNotFound,
        ErrorReason::kEdekInvalid, ErrorReason::kInvalidRequest, ErrorReason::kCallerNotAuthorized,
        ErrorReason::kKmsThrottled, ErrorReason::kKmsUnavailable, ErrorReason::kKeyringReadOnly,
        ErrorReason::kRateLimited, ErrorReason::kServerBusy, ErrorReason::kDeadlineExceeded,
        ErrorReason::kKeyVersionPinned, ErrorReason::kKeyVersionNotYetLoaded,
        ErrorReason::kInternal}) {
    grpc::Status status = ToGrpcStatus(Annotate(MakeError(reason, "inner"), "outer"));
    EXPECT_EQ(static_cast<int>(status.error_code()), static_cast<int>(CodeForReason(reason)));
    EXPECT_EQ(status.error_message(), "outer: inner");
    Decoded decoded = Decode(status);
    EXPECT_EQ(decoded.status.code(), static_cast<int>(status.error_code()));
    EXPECT_EQ(decoded.status.message(), "outer: inner");
    EXPECT_EQ(decoded.info.reason(), ErrorReasonName(reason));
    EXPECT_EQ(decoded.info.domain(), "keybroker");
  }
}

TEST(GrpcStatusTest, ErrorInfoUsesTheStandardTypeUrl) {
  Decoded decoded = Decode(ToGrpcStatus(KeyNotFound("x")));
  ASSERT_EQ(decoded.status.details_size(), 1);
  EXPECT_EQ(decoded.status.details(0).type_url(), "type.googleapis.com/google.rpc.ErrorInfo");
}

TEST(GrpcStatusTest, AnUnconfiguredAliasSaysSoInErrorInfoMetadata) {
  absl::Status status = KeyNotFound("no key alias 'x' is configured");
  MarkAliasNotConfigured(status);
  Decoded decoded = Decode(ToGrpcStatus(status));
  EXPECT_EQ(decoded.info.reason(), "KEY_NOT_FOUND");
  EXPECT_EQ(decoded.info.metadata().at("alias_configured"), "false");
  EXPECT_TRUE(Decode(ToGrpcStatus(KeyNotFound("vault key gone"))).info.metadata().empty());
}

TEST(GrpcStatusTest, ThrottlingCarriesRetryInfo) {
  absl::Status throttled = MakeError(ErrorReason::kKmsThrottled, "slow down");
  SetRetryDelay(throttled, absl::Milliseconds(2500));
  Decoded decoded = Decode(ToGrpcStatus(throttled));
  ASSERT_TRUE(decoded.has_retry);
  EXPECT_EQ(decoded.retry.retry_delay().seconds(), 2);
  EXPECT_EQ(decoded.retry.retry_delay().nanos(), 500000000);
}

TEST(GrpcStatusTest, AReplicaBehindOnTheKeyringAsksForARetry) {
  absl::Status behind = MakeError(ErrorReason::kKeyVersionNotYetLoaded, "not yet");
  SetRetryDelay(behind, absl::Seconds(1));
  grpc::Status status = ToGrpcStatus(behind);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);  // the SDK's retry policy
  Decoded decoded = Decode(status);
  EXPECT_EQ(decoded.info.reason(), "KEY_VERSION_NOT_YET_LOADED");
  ASSERT_TRUE(decoded.has_retry);
  EXPECT_EQ(decoded.retry.retry_delay().seconds(), 1);
}

TEST(GrpcStatusTest, StatusWithoutReasonGetsOneFromItsCode) {
  EXPECT_EQ(Decode(ToGrpcStatus(absl::InvalidArgumentError("x"))).info.reason(),
            "INVALID_REQUEST");
  // A deadline passed is the caller's, never an INTERNAL fault.
  grpc::Status deadline = ToGrpcStatus(absl::DeadlineExceededError("too late"));
  EXPECT_EQ(deadline.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(Decode(deadline).info.reason(), "DEADLINE_EXCEEDED");
  grpc::Status internal = ToGrpcStatus(absl::FailedPreconditionError("disk on fire"));
  EXPECT_EQ(internal.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(Decode(internal).info.reason(), "INTERNAL");
}

}  // namespace
}  // namespace keybroker::server

namespace keybroker::server {
namespace {

TEST(GrpcStatusTest, InvalidUtf8InAMessageDoesNotLoseTheDetails) {
  grpc::Status status = ToGrpcStatus(EdekInvalid("bad name \x80\xff end \xc3\xa9"));
  Decoded decoded = Decode(status);
  EXPECT_EQ(decoded.info.reason(), "EDEK_INVALID");
  EXPECT_EQ(decoded.status.message(), "bad name ?? end \xc3\xa9");
}

}  // namespace
}  // namespace keybroker::server
