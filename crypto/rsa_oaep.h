// RSA-OAEP-256 as Azure Key Vault defines it: OAEP with SHA-256 for both the
// hash and MGF1, and an empty label. On OpenSSL 3 EVP.
//
// Both key types are immutable after creation and safe for concurrent use
// (an encryption reuses its thread's EVP_PKEY_CTX for the key it last
// encrypted with; a decryption makes its own).
#ifndef KEYBROKER_CRYPTO_RSA_OAEP_H_
#define KEYBROKER_CRYPTO_RSA_OAEP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "crypto/secret_bytes.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace keybroker::crypto {

namespace internal {
struct PkeyDeleter {
  void operator()(EVP_PKEY* pkey) const;
};
using PkeyPtr = std::shared_ptr<EVP_PKEY>;
}  // namespace internal

class RsaOaepPublicKey {
 public:
  // Builds a key from a JWK's modulus and exponent, given as raw big-endian
  // bytes (already base64url-decoded). INVALID_ARGUMENT if they are not a
  // usable RSA key.
  static absl::StatusOr<RsaOaepPublicKey> FromJwk(absl::string_view n, absl::string_view e);
  // Builds a key from a PEM "PUBLIC KEY" (SubjectPublicKeyInfo).
  static absl::StatusOr<RsaOaepPublicKey> FromPem(absl::string_view pem);

  // Size of the modulus in bits.
  size_t modulus_bits() const;

  // Encrypts `plaintext` (at most modulus bytes - 66). INVALID_ARGUMENT when
  // it is too long; INTERNAL if OpenSSL fails.
  absl::StatusOr<std::string> Encrypt(absl::Span<const uint8_t> plaintext) const;

 private:
  explicit RsaOaepPublicKey(internal::PkeyPtr pkey) : pkey_(std::move(pkey)) {}
  internal::PkeyPtr pkey_;
};

class RsaOaepPrivateKey {
 public:
  // Generates a new key of `bits` bits (tests and the Key Vault emulator).
  static absl::StatusOr<RsaOaepPrivateKey> Generate(size_t bits);
  // Reads a PEM private key (PKCS#8 or traditional RSA).
  static absl::StatusOr<RsaOaepPrivateKey> FromPem(const SecretBytes& pem);

  size_t modulus_bits() const;
  // The public half.
  absl::StatusOr<RsaOaepPublicKey> PublicKey() const;
  // PEM "PUBLIC KEY" of the public half.
  absl::StatusOr<std::string> PublicKeyPem() const;
  // PKCS#8 PEM of the private key.
  absl::StatusOr<SecretBytes> PrivateKeyPem() const;
  // The modulus and public exponent as raw big-endian bytes (for a JWK).
  absl::StatusOr<std::string> ModulusBytes() const;
  absl::StatusOr<std::string> PublicExponentBytes() const;

  // Decrypts; INVALID_ARGUMENT when the ciphertext does not decrypt (wrong
  // key or tampered).
  absl::StatusOr<SecretBytes> Decrypt(absl::Span<const uint8_t> ciphertext) const;

 private:
  explicit RsaOaepPrivateKey(internal::PkeyPtr pkey) : pkey_(std::move(pkey)) {}
  internal::PkeyPtr pkey_;
};

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_RSA_OAEP_H_
