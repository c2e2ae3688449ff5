#include "common/error_reason.h"

#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::testing::Eq;
using ::testing::Optional;

// Every reason with its wire name and code, as the design table fixes them.
using ReasonRow = std::tuple<ErrorReason, std::string, absl::StatusCode>;

const std::vector<ReasonRow>& ReasonTable() {
  static const auto* table = new std::vector<ReasonRow>{
      {ErrorReason::kKeyNotAccessible, "KEY_NOT_ACCESSIBLE", absl::StatusCode::kPermissionDenied},
      {ErrorReason::kKeyDisabled, "KEY_DISABLED", absl::StatusCode::kFailedPrecondition},
      {ErrorReason::kKeyNotFound, "KEY_NOT_FOUND", absl::StatusCode::kNotFound},
      {ErrorReason::kEdekInvalid, "EDEK_INVALID", absl::StatusCode::kInvalidArgument},
      {ErrorReason::kInvalidRequest, "INVALID_REQUEST", absl::StatusCode::kInvalidArgument},
      {ErrorReason::kCallerNotAuthorized, "CALLER_NOT_AUTHORIZED",
       absl::StatusCode::kPermissionDenied},
      {ErrorReason::kKmsThrottled, "KMS_THROTTLED", absl::StatusCode::kResourceExhausted},
      {ErrorReason::kKmsUnavailable, "KMS_UNAVAILABLE", absl::StatusCode::kUnavailable},
      {ErrorReason::kKeyringReadOnly, "KEYRING_READ_ONLY", absl::StatusCode::kFailedPrecondition},
      {ErrorReason::kRateLimited, "RATE_LIMITED", absl::StatusCode::kResourceExhausted},
      {ErrorReason::kServerBusy, "SERVER_BUSY", absl::StatusCode::kResourceExhausted},
      {ErrorReason::kDeadlineExceeded, "DEADLINE_EXCEEDED", absl::StatusCode::kDeadlineExceeded},
      {ErrorReason::kKeyVersionPinned, "KEY_VERSION_PINNED", absl::StatusCode::kFailedPrecondition},
      {ErrorReason::kKeyVersionNotYetLoaded, "KEY_VERSION_NOT_YET_LOADED",
       absl::StatusCode::kUnavailable},
      {ErrorReason::kInternal, "INTERNAL", absl::StatusCode::kInternal},
  };
  return *table;
}

TEST(ErrorReasonTest, NamesMatchTheWireContract) {
  for (const auto& [reason, name, code] : ReasonTable()) {
    EXPECT_EQ(ErrorReasonName(reason), name);
  }
}

TEST(ErrorReasonTest, ParseRoundTripsEveryName) {
  for (const auto& [reason, name, code] : ReasonTable()) {
    EXPECT_THAT(ParseErrorReason(ErrorReasonName(reason)), Optional(reason)) << name;
  }
}

TEST(ErrorReasonTest, ParseRejectsUnknownAndNearMissNames) {
  EXPECT_EQ(ParseErrorReason(""), std::nullopt);
  EXPECT_EQ(ParseErrorReason("KEY_EXPLODED"), std::nullopt);
  EXPECT_EQ(ParseErrorReason("key_not_found"), std::nullopt);
  EXPECT_EQ(ParseErrorReason("KEY_NOT_FOUND "), std::nullopt);
}

TEST(ErrorReasonTest, CodesFollowTheDesignTable) {
  for (const auto& [reason, name, code] : ReasonTable()) {
    EXPECT_EQ(CodeForReason(reason), code) << name;
  }
}

TEST(ErrorReasonTest, MakeErrorCarriesCodeMessageAndReason) {
  for (const auto& [reason, name, code] : ReasonTable()) {
    absl::Status status = MakeError(reason, "key alias/3 failed");
    EXPECT_THAT(status, StatusIs(code, Eq("key alias/3 failed"))) << name;
    EXPECT_THAT(ReasonOf(status), Optional(reason)) << name;
  }
}

TEST(ErrorReasonTest, ShorthandsUseTheirReasons) {
  EXPECT_THAT(EdekInvalid("x"), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(InvalidRequest("x"), HasReason(ErrorReason::kInvalidRequest));
  EXPECT_THAT(KeyNotFound("x"), HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(Internal("x"), HasReason(ErrorReason::kInternal));
  EXPECT_THAT(CallerDeadlineExceeded("x"), HasReason(ErrorReason::kDeadlineExceeded));
  EXPECT_THAT(CallerDeadlineExceeded("x"), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(ErrorReasonTest, ReasonOfIsEmptyForOkAndForPlainErrors) {
  EXPECT_EQ(ReasonOf(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(ReasonOf(absl::NotFoundError("no reason attached")), std::nullopt);
}

TEST(ErrorReasonTest, AnnotatePrependsContextAndKeepsCodeAndReason) {
  absl::Status status = MakeError(ErrorReason::kKeyDisabled, "key is disabled");
  absl::Status annotated = Annotate(status, "unwrap with key vault/prod-kek");
  EXPECT_THAT(annotated, StatusIs(absl::StatusCode::kFailedPrecondition,
                                  Eq("unwrap with key vault/prod-kek: key is disabled")));
  EXPECT_THAT(annotated, HasReason(ErrorReason::kKeyDisabled));
}

TEST(ErrorReasonTest, AnnotateKeepsTheRetryDelay) {
  absl::Status status = MakeError(ErrorReason::kKmsThrottled, "throttled");
  SetRetryDelay(status, absl::Milliseconds(1500));
  absl::Status annotated = Annotate(status, "wrap");
  EXPECT_THAT(RetryDelayOf(annotated), Optional(absl::Milliseconds(1500)));
  EXPECT_THAT(annotated, HasReason(ErrorReason::kKmsThrottled));
}

TEST(ErrorReasonTest, AnnotateLeavesOkAlone) {
  EXPECT_TRUE(Annotate(absl::OkStatus(), "context").ok());
}

TEST(ErrorReasonTest, RetryDelayRoundTripsInMilliseconds) {
  absl::Status status = MakeError(ErrorReason::kKmsThrottled, "throttled");
  SetRetryDelay(status, absl::Seconds(7));
  EXPECT_THAT(RetryDelayOf(status), Optional(absl::Seconds(7)));
  // Sub-millisecond parts are dropped, not rounded up.
  SetRetryDelay(status, absl::Microseconds(2999));
  EXPECT_THAT(RetryDelayOf(status), Optional(absl::Milliseconds(2)));
}

TEST(ErrorReasonTest, RetryDelayIsEmptyWhenUnset) {
  EXPECT_EQ(RetryDelayOf(MakeError(ErrorReason::kKmsThrottled, "throttled")), std::nullopt);
  EXPECT_EQ(RetryDelayOf(absl::OkStatus()), std::nullopt);
}

}  // namespace
}  // namespace keybroker
