#include "crypto/x509_certificate.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <utility>

#include "crypto/bytes.h"

namespace keybroker::crypto {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};

// Returns the DER produced by an i2d_* function, or "" if it fails.
template <typename T, typename Encoder>
std::string ToDer(T* object, Encoder encode) {
  int size = encode(object, nullptr);
  if (size <= 0) return "";
  std::string der(static_cast<size_t>(size), '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(der.data());
  if (encode(object, &out) != size) return "";
  return der;
}

}  // namespace

absl::StatusOr<X509Certificate> X509Certificate::FromPem(absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // PEM_read_bio_X509 skips blocks of other types, so a combined key and
  // certificate file works too. No passphrase callback: certificates have none.
  std::unique_ptr<X509, X509Free> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                                           : nullptr);
  if (!cert) return absl::InvalidArgumentError("x509: no PEM certificate found");
  std::string der = ToDer(cert.get(), i2d_X509);
  EVP_PKEY* public_key = X509_get0_pubkey(cert.get());
  std::string public_key_der = public_key ? ToDer(public_key, i2d_PUBKEY) : "";
  if (der.empty() || public_key_der.empty()) {
    return absl::InvalidArgumentError("x509: certificate or its public key does not encode");
  }
  return X509Certificate(std::move(der), std::move(public_key_der));
}

absl::Status X509Certificate::CheckPrivateKeyMatches(absl::string_view private_key_pem) const {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  // No passphrase callback: an encrypted key is refused, not prompted for.
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) {
    return absl::InvalidArgumentError("no unencrypted PEM private key found");
  }
  std::string key_public_der = ToDer(key, i2d_PUBKEY);
  EVP_PKEY_free(key);
  if (key_public_der.empty() || key_public_der != public_key_der_) {
    return absl::InvalidArgumentError("the private key does not belong to the certificate");
  }
  return absl::OkStatus();
}

Sha256Digest X509Certificate::Sha256Thumbprint() const { return Sha256(AsBytes(der_)); }

}  // namespace keybroker::crypto
