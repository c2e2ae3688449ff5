// AES-256-GCM seal/open with associated data, on OpenSSL 3 EVP.
//
// The functions write into caller-provided buffers so that hot paths choose
// where bytes land (a SecretBytes for plaintext keys, a response field for
// ciphertext) and allocate nothing here. Each thread reuses one cipher
// context. Thread-safe.
#ifndef KEYBROKER_CRYPTO_AES_GCM_H_
#define KEYBROKER_CRYPTO_AES_GCM_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "crypto/secret_bytes.h"

// OpenSSL's cipher context (openssl/types.h), named here without its header.
struct evp_cipher_ctx_st;

namespace keybroker::crypto {

class AesGcm {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;  // what we generate; Open accepts 1..64
  static constexpr size_t kTagSize = 16;

  // Encrypts `plaintext` under `key` (32 bytes) and `nonce`, authenticating
  // `aad`. `ciphertext` must be exactly plaintext.size() bytes and `tag`
  // kTagSize bytes. INVALID_ARGUMENT on wrong sizes; INTERNAL if OpenSSL fails.
  // A nonce must never repeat under one key.
  static absl::Status Seal(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                           absl::Span<const uint8_t> plaintext, absl::Span<const uint8_t> aad,
                           absl::Span<uint8_t> ciphertext, absl::Span<uint8_t> tag);

  // Decrypts and verifies. `plaintext` must be exactly ciphertext.size()
  // bytes; when verification fails it is wiped (nothing unverified is left).
  // INVALID_ARGUMENT when the tag does not verify (wrong key, nonce, aad, or
  // tampered input) or sizes are wrong.
  static absl::Status Open(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                           absl::Span<const uint8_t> ciphertext, absl::Span<const uint8_t> aad,
                           absl::Span<const uint8_t> tag, absl::Span<uint8_t> plaintext);

  // As Seal and Open, with the associated data given in pieces: GCM
  // authenticates their concatenation, fed in order without copying (the
  // SDK's ciphertext header followed by the caller's aad). Each piece is at
  // most INT_MAX bytes.
  static absl::Status SealWithAadParts(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                                       absl::Span<const uint8_t> plaintext,
                                       std::initializer_list<absl::Span<const uint8_t>> aad_parts,
                                       absl::Span<uint8_t> ciphertext, absl::Span<uint8_t> tag);
  static absl::Status OpenWithAadParts(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                                       absl::Span<const uint8_t> ciphertext,
                                       std::initializer_list<absl::Span<const uint8_t>> aad_parts,
                                       absl::Span<const uint8_t> tag,
                                       absl::Span<uint8_t> plaintext);
};

// AES-256-GCM under one key set up once: the key schedule is computed when
// the object is made, and each Seal or Open only sets the nonce. For a key
// that seals or opens many records on one thread. Not thread-safe: one
// object per thread (crypto/aes_gcm_per_thread.h hands them out). The key
// schedule is key material: OpenSSL wipes it when the object is destroyed.
class AesGcmKeyed {
 public:
  // Returns nullptr if `key` is not 32 bytes or OpenSSL cannot set it up.
  static std::unique_ptr<AesGcmKeyed> Create(const SecretBytes& key);
  ~AesGcmKeyed();
  AesGcmKeyed(const AesGcmKeyed&) = delete;
  AesGcmKeyed& operator=(const AesGcmKeyed&) = delete;

  // As AesGcm::SealWithAadParts and OpenWithAadParts, under the key given
  // at creation.
  absl::Status SealWithAadParts(absl::Span<const uint8_t> nonce,
                                absl::Span<const uint8_t> plaintext,
                                std::initializer_list<absl::Span<const uint8_t>> aad_parts,
                                absl::Span<uint8_t> ciphertext, absl::Span<uint8_t> tag);
  absl::Status OpenWithAadParts(absl::Span<const uint8_t> nonce,
                                absl::Span<const uint8_t> ciphertext,
                                std::initializer_list<absl::Span<const uint8_t>> aad_parts,
                                absl::Span<const uint8_t> tag, absl::Span<uint8_t> plaintext);

 private:
  explicit AesGcmKeyed(evp_cipher_ctx_st* ctx) : ctx_(ctx) {}
  evp_cipher_ctx_st* const ctx_;
  size_t nonce_size_ = AesGcm::kNonceSize;  // the context's current nonce length
};

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_AES_GCM_H_
