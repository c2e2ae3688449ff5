#include "client_sdk/src/reconnect_backoff.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/types/span.h"
#include "common/error_reason.h"
#include "crypto/random.h"

namespace keybroker::sdk::internal {
namespace {

// A fraction in [0, 1]. The jitter need not be secret; the CSPRNG is simply
// what the SDK already has, and a reconnect is rare enough for its cost. If
// it fails, no jitter (0 here means the full wait).
double RandomFraction() {
  uint32_t bits = 0;
  uint8_t bytes[sizeof(bits)];
  if (!crypto::FillRandom(absl::MakeSpan(bytes)).ok()) return 0.0;
  std::memcpy(&bits, bytes, sizeof(bits));
  return static_cast<double>(bits) / static_cast<double>(UINT32_MAX);
}

}  // namespace

absl::Duration ReconnectBackoff::Next() {
  const absl::Duration wait = ceiling_ - ceiling_ / 2 * RandomFraction();
  ceiling_ = std::min(ceiling_ * 2, max_);
  return wait;
}

absl::Duration WaitAfter(const absl::Status& status, absl::Duration own) {
  constexpr absl::Duration kLongestAskedWait = absl::Minutes(5);
  std::optional<absl::Duration> asked = RetryDelayOf(status);
  if (!asked.has_value()) return own;
  return std::max(own, std::min(*asked, kLongestAskedWait));
}

}  // namespace keybroker::sdk::internal
