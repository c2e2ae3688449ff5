#include "client_sdk/src/reconnect_backoff.h"

#include <algorithm>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace keybroker::sdk::internal {
namespace {

// Each wait is in [d/2, d], d doubling from the initial wait to the cap.
TEST(ReconnectBackoffTest, WaitsDoubleWithJitterUpToTheCap) {
  ReconnectBackoff backoff(absl::Milliseconds(100), absl::Seconds(10));
  absl::Duration ceiling = absl::Milliseconds(100);
  for (int attempt = 0; attempt < 12; ++attempt) {
    const absl::Duration wait = backoff.Next();
    EXPECT_GE(wait, ceiling / 2) << attempt;
    EXPECT_LE(wait, ceiling) << attempt;
    ceiling = std::min(ceiling * 2, absl::Seconds(10));
  }
  EXPECT_EQ(ceiling, absl::Seconds(10));
}

TEST(ReconnectBackoffTest, ResetStartsOver) {
  ReconnectBackoff backoff(absl::Milliseconds(100), absl::Seconds(10));
  for (int attempt = 0; attempt < 8; ++attempt) backoff.Next();
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Milliseconds(100));
}

// Two clients that failed together do not all come back in step.
TEST(ReconnectBackoffTest, WaitsAreJittered) {
  absl::Duration first = ReconnectBackoff(absl::Seconds(1), absl::Seconds(1)).Next();
  bool differs = false;
  for (int i = 0; i < 20 && !differs; ++i) {
    differs = ReconnectBackoff(absl::Seconds(1), absl::Seconds(1)).Next() != first;
  }
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace keybroker::sdk::internal
