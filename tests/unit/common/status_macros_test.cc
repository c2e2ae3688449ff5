#include "common/status_macros.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::Eq;

absl::Status ReturnIfErrorThenMark(absl::Status first, bool* reached_end) {
  RETURN_IF_ERROR(first);
  *reached_end = true;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsTheError) {
  bool reached_end = false;
  EXPECT_THAT(ReturnIfErrorThenMark(absl::NotFoundError("gone"), &reached_end),
              StatusIs(absl::StatusCode::kNotFound, Eq("gone")));
  EXPECT_FALSE(reached_end);
}

TEST(StatusMacrosTest, ReturnIfErrorContinuesOnOk) {
  bool reached_end = false;
  EXPECT_OK(ReturnIfErrorThenMark(absl::OkStatus(), &reached_end));
  EXPECT_TRUE(reached_end);
}

absl::StatusOr<std::unique_ptr<std::string>> MakeOwned(absl::StatusOr<std::string> in) {
  if (!in.ok()) return in.status();
  return std::make_unique<std::string>(*in);
}

// Uses ASSIGN_OR_RETURN twice in one function, with a move-only type.
absl::StatusOr<std::string> Concat(absl::StatusOr<std::string> a, absl::StatusOr<std::string> b) {
  ASSIGN_OR_RETURN(std::unique_ptr<std::string> first, MakeOwned(std::move(a)));
  ASSIGN_OR_RETURN(auto second, MakeOwned(std::move(b)));
  return *first + *second;
}

TEST(StatusMacrosTest, AssignOrReturnAssignsValues) {
  absl::StatusOr<std::string> joined = Concat("ab", "cd");
  ASSERT_OK(joined);
  EXPECT_EQ(*joined, "abcd");
}

TEST(StatusMacrosTest, AssignOrReturnReturnsTheFirstError) {
  EXPECT_THAT(Concat(absl::InvalidArgumentError("bad a"), absl::InternalError("bad b")),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq("bad a")));
  EXPECT_THAT(Concat("ok", absl::UnavailableError("bad b")),
              StatusIs(absl::StatusCode::kUnavailable, Eq("bad b")));
}

TEST(StatusMacrosTest, MacrosEvaluateTheirExpressionOnce) {
  int evaluations = 0;
  auto counted = [&evaluations]() -> absl::StatusOr<int> { return ++evaluations; };
  auto body = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(int value, counted());
    RETURN_IF_ERROR(value == 1 ? absl::OkStatus() : absl::InternalError("re-evaluated"));
    return absl::OkStatus();
  };
  EXPECT_OK(body());
  EXPECT_EQ(evaluations, 1);
}

}  // namespace
}  // namespace keybroker
