// GoogleTest matchers for absl::Status / absl::StatusOr (Abseil 20220623
// ships none): IsOk(), StatusIs(code), StatusIs(code, message_matcher),
// HasReason(ErrorReason).
#ifndef KEYBROKER_TESTS_TESTING_STATUS_MATCHERS_H_
#define KEYBROKER_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"

namespace keybroker::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

MATCHER_P(HasReason, reason, "has reason " + std::string(ErrorReasonName(reason))) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return ::keybroker::ReasonOf(status) == reason &&
         status.code() == ::keybroker::CodeForReason(reason);
}

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::keybroker::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::keybroker::testing::IsOk())

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_TESTING_STATUS_MATCHERS_H_
