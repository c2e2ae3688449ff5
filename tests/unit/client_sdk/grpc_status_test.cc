// internal::FromGrpcStatus is the inverse of the server's ToGrpcStatus: every
// reason, code, message and retry delay survives the round trip; anything
// the broker would not send leaves at most the code and message, and the
// ErrorInfo as sent (ErrorInfoOf).
#include "client_sdk/src/grpc_status.h"

#include <optional>
#include <tuple>

#include "common/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/error_info.h"
#include "server/grpc_status.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk::internal {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;

constexpr ErrorReason kAllReasons[] = {
    ErrorReason::kKeyNotAccessible, ErrorReason::kKeyDisabled,    ErrorReason::kKeyNotFound,
    ErrorReason::kEdekInvalid,      ErrorReason::kInvalidRequest, ErrorReason::kCallerNotAuthorized,
    ErrorReason::kKmsThrottled,     ErrorReason::kKmsUnavailable, ErrorReason::kKeyringReadOnly,
    ErrorReason::kRateLimited,      ErrorReason::kServerBusy,     ErrorReason::kDeadlineExceeded,
    ErrorReason::kKeyVersionPinned, ErrorReason::kKeyVersionNotYetLoaded, ErrorReason::kInternal,
};

// A gRPC error whose details hold one ErrorInfo.
grpc::Status WithErrorInfo(grpc::StatusCode code, const std::string& reason,
                           const std::string& domain = "keybroker") {
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain(domain);
  google::rpc::Status details;
  details.set_code(code);
  details.set_message("m");
  details.add_details()->PackFrom(info);
  return grpc::Status(code, "m", details.SerializeAsString());
}

TEST(FromGrpcStatusTest, OkIsOk) { EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok()); }

TEST(FromGrpcStatusTest, EveryReasonSurvivesTheRoundTrip) {
  for (ErrorReason reason : kAllReasons) {
    absl::Status original = MakeError(reason, "key alias 'tenant-a' version 3: no");
    absl::Status back = FromGrpcStatus(server::ToGrpcStatus(original));
    EXPECT_THAT(back, HasReason(reason)) << ErrorReasonName(reason);
    EXPECT_EQ(back.message(), original.message());
  }
}

TEST(FromGrpcStatusTest, RetryDelaySurvivesTheRoundTrip) {
  absl::Status throttled = MakeError(ErrorReason::kKmsThrottled, "throttled");
  SetRetryDelay(throttled, absl::Milliseconds(1500));
  absl::Status back = FromGrpcStatus(server::ToGrpcStatus(throttled));
  EXPECT_THAT(back, HasReason(ErrorReason::kKmsThrottled));
  EXPECT_EQ(RetryDelayOf(back), absl::Milliseconds(1500));
  EXPECT_EQ(RetryDelayOf(FromGrpcStatus(
                server::ToGrpcStatus(MakeError(ErrorReason::kKmsThrottled, "no delay")))),
            std::nullopt);
}

TEST(FromGrpcStatusTest, ErrorsWithoutDetailsKeepCodeAndMessage) {
  absl::Status status =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDeadlineExceeded, "Deadline Exceeded"));
  EXPECT_EQ(ReasonOf(status), std::nullopt);
}

TEST(FromGrpcStatusTest, UnknownReasonKeepsTheCodeWithoutAReason) {
  absl::Status status =
      FromGrpcStatus(WithErrorInfo(grpc::StatusCode::PERMISSION_DENIED, "SOME_FUTURE_REASON"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied, "m"));
  EXPECT_EQ(ReasonOf(status), std::nullopt);
}

TEST(FromGrpcStatusTest, ReasonThatDoesNotGoWithTheCodeIsLeftOut) {
  absl::Status status =
      FromGrpcStatus(WithErrorInfo(grpc::StatusCode::UNAVAILABLE, "KEY_NOT_FOUND"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(ReasonOf(status), std::nullopt);
}

TEST(FromGrpcStatusTest, ErrorInfoOfAnotherDomainIsIgnored) {
  absl::Status status =
      FromGrpcStatus(WithErrorInfo(grpc::StatusCode::NOT_FOUND, "KEY_NOT_FOUND", "proxy.example"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(ReasonOf(status), std::nullopt);
}

TEST(FromGrpcStatusTest, ErrorInfoOfGivesTheErrorInfoAsSent) {
  for (ErrorReason reason : kAllReasons) {
    std::optional<ErrorInfo> info =
        ErrorInfoOf(FromGrpcStatus(server::ToGrpcStatus(MakeError(reason, "m"))));
    ASSERT_TRUE(info.has_value()) << ErrorReasonName(reason);
    EXPECT_EQ(info->reason, ErrorReasonName(reason));
    EXPECT_EQ(info->domain, "keybroker");
  }
  // What ReasonOf leaves out is still there as sent.
  for (auto [code, reason, domain] :
       {std::tuple{grpc::StatusCode::PERMISSION_DENIED, "SOME_FUTURE_REASON", "keybroker"},
        {grpc::StatusCode::UNAVAILABLE, "KEY_NOT_FOUND", "keybroker"},
        {grpc::StatusCode::NOT_FOUND, "KEY_NOT_FOUND", "proxy.example"}}) {
    std::optional<ErrorInfo> info = ErrorInfoOf(FromGrpcStatus(WithErrorInfo(code, reason, domain)));
    ASSERT_TRUE(info.has_value()) << reason;
    EXPECT_EQ(info->reason, reason);
    EXPECT_EQ(info->domain, domain);
  }
}

TEST(FromGrpcStatusTest, ErrorInfoOfIsEmptyWithoutOne) {
  EXPECT_EQ(ErrorInfoOf(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(ErrorInfoOf(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"))),
            std::nullopt);
  EXPECT_EQ(ErrorInfoOf(MakeError(ErrorReason::kKeyNotFound, "not from a call")), std::nullopt);
}

TEST(FromGrpcStatusTest, DetailsThatDoNotParseAreIgnored) {
  absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "gone", std::string("\xff\xff\xff", 3)));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, "gone"));
  EXPECT_EQ(ReasonOf(status), std::nullopt);
  EXPECT_EQ(ErrorInfoOf(status), std::nullopt);
}

}  // namespace
}  // namespace keybroker::sdk::internal
