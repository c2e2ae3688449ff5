#include "crypto/secret_env.h"

#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"

namespace keybroker::crypto {
namespace {

using ::keybroker::testing::ReadAll;

constexpr char kName[] = "KEYBROKER_SECRET_ENV_TEST";
constexpr char kValue[] = "5ec7e7-in-the-environment-0123456789abcdef";

TEST(SecretEnvTest, TakesTheValueAndRemovesTheVariable) {
  ::setenv(kName, kValue, 1);
  std::optional<SecretBytes> taken = TakeSecretFromEnvironment(kName);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->RevealAsStringView(), kValue);
  EXPECT_EQ(std::getenv(kName), nullptr);
  EXPECT_FALSE(TakeSecretFromEnvironment(kName).has_value()) << "taken once";
}

TEST(SecretEnvTest, AnEmptyValueIsTakenToo) {
  ::setenv(kName, "", 1);
  std::optional<SecretBytes> taken = TakeSecretFromEnvironment(kName);
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(taken->empty());
  EXPECT_EQ(std::getenv(kName), nullptr);
}

// /proc/self/environ shows the environment the process started with, so the
// check runs in a process started with the variable: gtest's "threadsafe"
// death tests execute this test binary again, from the start of this test.
TEST(SecretEnvTest, TheStartUpCopyIsWipedFromProcSelfEnviron) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Overwriting would replace the child's start-up copy with a heap copy.
  ::setenv(kName, kValue, /*overwrite=*/0);
  EXPECT_EXIT(
      {
        bool at_start = absl::StrContains(ReadAll("/proc/self/environ"), kValue);
        std::optional<SecretBytes> taken = TakeSecretFromEnvironment(kName);
        bool gone = !absl::StrContains(ReadAll("/proc/self/environ"), kValue);
        bool ok = at_start && taken.has_value() && taken->RevealAsStringView() == kValue &&
                  gone && std::getenv(kName) == nullptr;
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  ::unsetenv(kName);
}

}  // namespace
}  // namespace keybroker::crypto
