#include "crypto/random.h"

#include <openssl/rand.h>

#include <climits>

#include "common/error_reason.h"

namespace keybroker::crypto {

absl::Status FillRandom(absl::Span<uint8_t> out) {
  if (out.empty()) return absl::OkStatus();
  if (out.size() > INT_MAX || RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    return Internal("the random number generator failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> RandomSecret(size_t size) {
  SecretBytes secret(size);
  absl::Status status = FillRandom(secret.RevealMutable());
  if (!status.ok()) return status;
  return secret;
}

}  // namespace keybroker::crypto
