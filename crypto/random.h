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

// Fills `nonce` (at most kMaxBatchedNonce bytes) with random bytes for an
// AES-GCM nonce: the same CSPRNG as FillRandom, drawn for 64 nonces at a time
// per thread, so that a record costs no call into OpenSSL's DRBG (which asks
// the kernel for the process id on every call). A forked child drops the
// batches it inherited: parent and child never hand out the same bytes.
// Nonces are not secret (they travel in the ciphertext). INTERNAL if the DRBG
// fails.
inline constexpr size_t kMaxBatchedNonce = 12;
absl::Status FillNonce(absl::Span<uint8_t> nonce);

// Returns `size` random bytes as a secret (a fresh DEK or KEK).
absl::StatusOr<SecretBytes> RandomSecret(size_t size);

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_RANDOM_H_
