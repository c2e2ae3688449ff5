// The SDK's ciphertext format, version 1 (docs/ciphertext-format.md):
//
//   0x01 | u16 EDEK length E (big-endian, 1..65535) | EDEK | 12-byte nonce |
//   AES-256-GCM ciphertext | 16-byte tag
//
// The header is everything before the ciphertext (15 + E bytes); GCM
// authenticates header || caller's aad. This file only lays bytes out and
// splits them; the crypto is in encryptor.cc. Stateless and thread-safe.
#ifndef KEYBROKER_CLIENT_SDK_SRC_CIPHERTEXT_FORMAT_H_
#define KEYBROKER_CLIENT_SDK_SRC_CIPHERTEXT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace keybroker::sdk::internal {

inline constexpr uint8_t kFormatV1 = 0x01;
inline constexpr size_t kMaxEdekSize = 0xffff;  // what the u16 length can say
inline constexpr size_t kCiphertextNonceSize = 12;
inline constexpr size_t kCiphertextTagSize = 16;
// Bytes of a format-1 ciphertext besides the EDEK and the encrypted data.
inline constexpr size_t kFixedOverhead = 1 + 2 + kCiphertextNonceSize + kCiphertextTagSize;

// The parts of a format-1 ciphertext, as views into the parsed bytes (which
// must outlive them).
struct CiphertextParts {
  absl::string_view edek;
  absl::Span<const uint8_t> header;  // format byte through nonce: authenticated first
  absl::Span<const uint8_t> nonce;
  absl::Span<const uint8_t> encrypted;  // the GCM ciphertext, plaintext-sized
  absl::Span<const uint8_t> tag;
};

// Where Encrypt writes into a ciphertext laid out by LayOutCiphertext.
struct CiphertextSlots {
  absl::Span<const uint8_t> header;  // already written, but for the nonce bytes
  absl::Span<uint8_t> nonce;
  absl::Span<uint8_t> encrypted;
  absl::Span<uint8_t> tag;
};

// Makes `out` a format-1 ciphertext of the right size for `edek` and a
// `plaintext_size`-byte plaintext (reusing its capacity), writes the format byte,
// EDEK length and EDEK, and returns where the nonce, ciphertext and tag go.
// The views point into `out`. INTERNAL if `edek` is empty or longer than
// kMaxEdekSize (a DekSource bug: EDEKs are checked when fetched).
absl::StatusOr<CiphertextSlots> LayOutCiphertext(absl::string_view edek, size_t plaintext_size,
                                                 std::string& out);

// The size of a format-1 ciphertext of a `plaintext_size`-byte plaintext
// under an EDEK of `edek_size` bytes.
constexpr size_t CiphertextSize(size_t edek_size, size_t plaintext_size) {
  return kFixedOverhead + edek_size + plaintext_size;
}

// As above, into `out`, which must be exactly CiphertextSize(edek.size(),
// plaintext_size) bytes (INTERNAL otherwise): for a buffer the caller owns.
absl::StatusOr<CiphertextSlots> LayOutCiphertext(absl::string_view edek, size_t plaintext_size,
                                                 absl::Span<uint8_t> out);

// Splits a format-1 ciphertext, checking every length. INVALID_ARGUMENT with
// reason EDEK_INVALID, saying which check failed, when it is truncated, has
// an unknown format byte or a zero EDEK length. Nothing is authenticated yet.
absl::StatusOr<CiphertextParts> ParseCiphertext(absl::string_view ciphertext);

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_CIPHERTEXT_FORMAT_H_
