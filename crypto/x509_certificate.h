// X509Certificate: the parts of an X.509 certificate keybroker needs to
// present it to Entra ID (client-certificate credentials): its DER encoding,
// its SHA-256 thumbprint (the JWT header's "x5t#S256") and its public key, to
// check that a configured private key belongs to it.
//
// Immutable after creation; safe for concurrent use.
#ifndef KEYBROKER_CRYPTO_X509_CERTIFICATE_H_
#define KEYBROKER_CRYPTO_X509_CERTIFICATE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/hmac.h"

namespace keybroker::crypto {

class X509Certificate {
 public:
  // Reads the first "CERTIFICATE" block of `pem` (a chain file's leaf comes
  // first; other PEM blocks, such as a private key in the same file, are
  // skipped). INVALID_ARGUMENT if there is none or it does not parse.
  static absl::StatusOr<X509Certificate> FromPem(absl::string_view pem);

  // The certificate's DER encoding.
  const std::string& der() const { return der_; }

  // SHA-256 of der().
  Sha256Digest Sha256Thumbprint() const;

  // The subject public key as DER SubjectPublicKeyInfo, comparable with
  // RsaPssSigner::PublicKeyDer().
  const std::string& public_key_der() const { return public_key_der_; }

  // OK when `private_key_pem` (any key type, unencrypted PEM) parses and is
  // the private half of this certificate's public key; INVALID_ARGUMENT
  // otherwise. For checking a TLS key pair before serving with it.
  absl::Status CheckPrivateKeyMatches(absl::string_view private_key_pem) const;

 private:
  X509Certificate(std::string der, std::string public_key_der)
      : der_(std::move(der)), public_key_der_(std::move(public_key_der)) {}

  std::string der_;
  std::string public_key_der_;
};

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_X509_CERTIFICATE_H_
