#include "crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>
#include <memory>

#include "common/error_reason.h"

namespace keybroker::crypto {
namespace {

constexpr size_t kHashSize = 32;

// Fetched once: a provider look-up per call would dominate the cost.
EVP_KDF* Hkdf() {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return kdf;
}

struct CtxDeleter {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_KDF_CTX, CtxDeleter>;

// This thread's HKDF context, its digest set once: setting the digest by
// name fetches SHA-256 from the provider, which cost more than the
// derivation itself when a context was made per call (every wrap and unwrap
// on the local keyring derives a key). Null if OpenSSL fails.
EVP_KDF_CTX* ThreadContext() {
  thread_local CtxPtr ctx = [] {
    CtxPtr made(Hkdf() ? EVP_KDF_CTX_new(Hkdf()) : nullptr);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (made && EVP_KDF_CTX_set_params(made.get(), params) != 1) made.reset();
    return made;
  }();
  return ctx.get();
}

// Replaces the key a context holds with one zero byte (OpenSSL wipes the old
// one as it frees it), so that no key stays in this thread's context between
// calls.
void DropKey(EVP_KDF_CTX* ctx) {
  unsigned char dummy = 0;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, &dummy, 1),
                         OSSL_PARAM_construct_end()};
  EVP_KDF_CTX_set_params(ctx, params);
}

}  // namespace

absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& key, absl::Span<const uint8_t> salt,
                                       absl::string_view info, size_t length) {
  if (length == 0 || length > 255 * kHashSize || key.empty()) {
    return Internal("hkdf-sha256: bad key or output length");
  }
  EVP_KDF_CTX* ctx = ThreadContext();
  if (ctx == nullptr) return Internal("hkdf-sha256 failed in OpenSSL");
  // An absent salt means RFC 5869's default, hash-length zeros; given
  // explicitly because the context keeps the previous call's salt otherwise
  // (and OpenSSL rejects an empty one).
  static constexpr std::array<uint8_t, kHashSize> kDefaultSalt{};
  const absl::Span<const uint8_t> used_salt = salt.empty() ? absl::MakeConstSpan(kDefaultSalt) : salt;
  // OSSL_PARAM wants mutable pointers; OpenSSL only reads these.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key.Reveal().data()), key.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(used_salt.data()), used_salt.size()),
      // Replaces the previous call's info (OpenSSL concatenates only the
      // info parameters of one call).
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  SecretBytes out(length);
  const bool derived = EVP_KDF_derive(ctx, out.RevealMutable().data(), length, params) == 1;
  DropKey(ctx);
  if (!derived) return Internal("hkdf-sha256 failed in OpenSSL");
  return out;
}

}  // namespace keybroker::crypto
