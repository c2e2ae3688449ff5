// HKDF-SHA-256 (RFC 5869) on OpenSSL 3's HMAC (EVP_MAC), one context per
// thread. Thread-safe.
#ifndef KEYBROKER_CRYPTO_HKDF_H_
#define KEYBROKER_CRYPTO_HKDF_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "crypto/secret_bytes.h"

namespace keybroker::crypto {

// Derives `length` bytes (1..8160) from `key` with `salt` and `info`.
// INTERNAL if OpenSSL fails.
absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& key, absl::Span<const uint8_t> salt,
                                       absl::string_view info, size_t length);

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_HKDF_H_
