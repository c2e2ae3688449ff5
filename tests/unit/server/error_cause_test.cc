#include "server/error_cause.h"

#include "common/error_reason.h"
#include "gtest/gtest.h"

namespace keybroker::server {
namespace {

TEST(ErrorCauseTest, SuccessHasNoCause) {
  EXPECT_EQ(CauseOf(absl::OkStatus()), ErrorCause::kNone);
  EXPECT_EQ(ErrorCauseName(ErrorCause::kNone), "none");
}

TEST(ErrorCauseTest, CustomersKeyStatesAreCustomerCaused) {
  EXPECT_EQ(CauseOf(MakeError(ErrorReason::kKeyNotAccessible, "revoked")), ErrorCause::kCustomer);
  EXPECT_EQ(CauseOf(MakeError(ErrorReason::kKeyDisabled, "disabled")), ErrorCause::kCustomer);
  // A configured key that is gone from the vault was deleted by its owner.
  EXPECT_EQ(CauseOf(KeyNotFound("key deleted")), ErrorCause::kCustomer);
}

TEST(ErrorCauseTest, AnUnconfiguredAliasIsTheCallersMistake) {
  absl::Status status = KeyNotFound("no key alias 'x' is configured");
  MarkAliasNotConfigured(status);
  EXPECT_EQ(CauseOf(status), ErrorCause::kClient);
}

TEST(ErrorCauseTest, BadRequestsAreClientCaused) {
  EXPECT_EQ(CauseOf(EdekInvalid("tampered")), ErrorCause::kClient);
  EXPECT_EQ(CauseOf(InvalidRequest("empty")), ErrorCause::kClient);
  EXPECT_EQ(CauseOf(MakeError(ErrorReason::kCallerNotAuthorized, "no")), ErrorCause::kClient);
  EXPECT_EQ(CauseOf(MakeError(ErrorReason::kKeyringReadOnly, "ro")), ErrorCause::kClient);
  EXPECT_EQ(CauseOf(MakeError(ErrorReason::kKeyVersionPinned, "pinned")), ErrorCause::kClient);
  EXPECT_EQ(CauseOf(CallerDeadlineExceeded("waited for a vault")), ErrorCause::kClient);
  EXPECT_EQ(CauseOf(absl::DeadlineExceededError("caller's deadline")), ErrorCause::kClient);
  EXPECT_EQ(CauseOf(absl::CancelledError("caller went away")), ErrorCause::kClient);
}

TEST(ErrorCauseTest, KmsAndBrokerFaultsAreServiceCaused) {
  EXPECT_EQ(CauseOf(MakeError(ErrorReason::kKmsThrottled, "429")), ErrorCause::kService);
  EXPECT_EQ(CauseOf(MakeError(ErrorReason::kKmsUnavailable, "503")), ErrorCause::kService);
  EXPECT_EQ(CauseOf(Internal("bug")), ErrorCause::kService);
  EXPECT_EQ(CauseOf(absl::UnavailableError("no reason attached")), ErrorCause::kService);
  // A replica behind on the keyring is the operator's to fix (it pages only
  // if it lasts: the SDK retries on another replica meanwhile).
  EXPECT_EQ(CauseOf(MakeError(ErrorReason::kKeyVersionNotYetLoaded, "behind")),
            ErrorCause::kService);
  EXPECT_EQ(ErrorCauseName(ErrorCause::kService), "service");
}

}  // namespace
}  // namespace keybroker::server
