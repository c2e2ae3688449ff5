// RsaPssSigner: RSASSA-PSS signatures with SHA-256, MGF1-SHA-256 and a
// 32-byte salt -- JWS "PS256" (RFC 7518 §3.5), which Entra ID asks for in
// client-certificate assertions. On OpenSSL 3 EVP.
//
// Immutable after creation and safe for concurrent use (each call makes its
// own EVP_MD_CTX). The private key never leaves OpenSSL's memory.
#ifndef KEYBROKER_CRYPTO_RSA_PSS_SIGN_H_
#define KEYBROKER_CRYPTO_RSA_PSS_SIGN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crypto/secret_bytes.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace keybroker::crypto {

class RsaPssSigner {
 public:
  // Salt length of PS256 signatures: the digest size (RFC 7518 §3.5).
  static constexpr size_t kSaltLength = 32;

  // Reads a PEM RSA private key (PKCS#8 or traditional; other PEM blocks such
  // as a certificate in the same file are skipped). INVALID_ARGUMENT if there
  // is none, it is encrypted (there is no passphrase prompt), not RSA, or
  // under 2048 bits. The message never includes key bytes.
  static absl::StatusOr<RsaPssSigner> FromPem(const SecretBytes& pem);

  // Size of the modulus in bits.
  size_t modulus_bits() const;

  // The public half as DER SubjectPublicKeyInfo, comparable with
  // X509Certificate::public_key_der().
  const std::string& public_key_der() const { return public_key_der_; }

  // Returns the PSS signature of SHA-256(`message`), modulus-sized.
  // INTERNAL if OpenSSL fails.
  absl::StatusOr<std::string> Sign(absl::Span<const uint8_t> message) const;

 private:
  RsaPssSigner(std::shared_ptr<EVP_PKEY> pkey, std::string public_key_der)
      : pkey_(std::move(pkey)), public_key_der_(std::move(public_key_der)) {}

  std::shared_ptr<EVP_PKEY> pkey_;
  std::string public_key_der_;
};

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_RSA_PSS_SIGN_H_
