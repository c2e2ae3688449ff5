// The CSPRNG: OpenSSL's RAND_bytes (DRBG seeded from the OS). Thread-safe.
#ifndef KEYBROKER_CRYPTO_RANDOM_H_
#define KEYBROKER_CRYPTO_RANDOM_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/secret_bytes.h"

namespace keybroker::crypto {

// Fills `out` with random bytes. INTERNAL if the DRBG fails (it then must not
// be used: callers fail the operation rather than fall back).
absl::Status FillRandom(absl::Span<uint8_t> out);

// Returns `size` random bytes as a secret (a fresh DEK or KEK).
absl::StatusOr<SecretBytes> RandomSecret(size_t size);

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_RANDOM_H_
