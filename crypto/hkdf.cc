#include "crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

#include "common/error_reason.h"

namespace keybroker::crypto {
namespace {

// Fetched once: a provider look-up per call would dominate the cost.
EVP_KDF* Hkdf() {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return kdf;
}

struct CtxDeleter {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};

}  // namespace

absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& key, absl::Span<const uint8_t> salt,
                                       absl::string_view info, size_t length) {
  if (length == 0 || length > 255 * 32 || key.empty()) {
    return Internal("hkdf-sha256: bad key or output length");
  }
  std::unique_ptr<EVP_KDF_CTX, CtxDeleter> ctx(Hkdf() ? EVP_KDF_CTX_new(Hkdf()) : nullptr);
  char digest[] = "SHA256";
  // OSSL_PARAM wants mutable pointers; OpenSSL only reads these.
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key.Reveal().data()), key.size());
  // An absent salt means RFC 5869's default (hash-length zeros); OpenSSL
  // rejects an empty one.
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  const_cast<char*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();
  SecretBytes out(length);
  if (!ctx || EVP_KDF_derive(ctx.get(), out.RevealMutable().data(), length, params) != 1) {
    return Internal("hkdf-sha256 failed in OpenSSL");
  }
  return out;
}

}  // namespace keybroker::crypto
