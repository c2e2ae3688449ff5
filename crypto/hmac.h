// HMAC-SHA-256 (OpenSSL 3 EVP_MAC). Thread-safe.
#ifndef KEYBROKER_CRYPTO_HMAC_H_
#define KEYBROKER_CRYPTO_HMAC_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/secret_bytes.h"

namespace keybroker::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// Returns HMAC-SHA-256 of `data` under `key`. INTERNAL if OpenSSL fails.
absl::StatusOr<Sha256Digest> HmacSha256(const SecretBytes& key, absl::Span<const uint8_t> data);

// Returns SHA-256 of `data`.
Sha256Digest Sha256(absl::Span<const uint8_t> data);

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_HMAC_H_
