#include "crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <memory>

#include "common/error_reason.h"

namespace keybroker::crypto {
namespace {

constexpr size_t kHashSize = 32;

// HKDF (RFC 5869) is two steps of HMAC-SHA-256, done here on one HMAC
// context per thread with its digest set once. OpenSSL's own HKDF (EVP_KDF)
// fetched HMAC and SHA-256 from the provider by name and made a MAC context
// on every extract: most of the CPU of a local wrap or unwrap, which derive
// a key each.

// Fetched once: a provider look-up per call would dominate the cost.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

// This thread's HMAC-SHA-256 context; null if OpenSSL fails.
EVP_MAC_CTX* ThreadHmac() {
  thread_local MacCtxPtr ctx = [] {
    MacCtxPtr made(HmacAlgorithm() ? EVP_MAC_CTX_new(HmacAlgorithm()) : nullptr);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (made && EVP_MAC_CTX_set_params(made.get(), params) != 1) made.reset();
    return made;
  }();
  return ctx.get();
}

// HMAC-SHA-256 under `key` of the concatenation of `parts` into `out`.
bool Hmac(EVP_MAC_CTX* ctx, absl::Span<const uint8_t> key,
          std::initializer_list<absl::Span<const uint8_t>> parts, uint8_t* out) {
  if (EVP_MAC_init(ctx, key.data(), key.size(), nullptr) != 1) return false;
  for (absl::Span<const uint8_t> part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx, part.data(), part.size()) != 1) return false;
  }
  size_t written = 0;
  return EVP_MAC_final(ctx, out, &written, kHashSize) == 1 && written == kHashSize;
}

}  // namespace

absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& key, absl::Span<const uint8_t> salt,
                                       absl::string_view info, size_t length) {
  if (length == 0 || length > 255 * kHashSize || key.empty()) {
    return Internal("hkdf-sha256: bad key or output length");
  }
  EVP_MAC_CTX* ctx = ThreadHmac();
  if (ctx == nullptr) return Internal("hkdf-sha256 failed in OpenSSL");
  // An absent salt means hash-length zeros (RFC 5869, 2.2).
  static constexpr std::array<uint8_t, kHashSize> kZeros{};
  const absl::Span<const uint8_t> used_salt = salt.empty() ? absl::MakeConstSpan(kZeros) : salt;
  const absl::Span<const uint8_t> info_bytes(reinterpret_cast<const uint8_t*>(info.data()),
                                             info.size());
  // Extract: PRK = HMAC(salt, IKM). Expand: T(i) = HMAC(PRK, T(i-1) | info | i).
  SecretBytes prk(kHashSize);
  SecretBytes block(kHashSize);
  SecretBytes out(length);
  bool ok = Hmac(ctx, used_salt, {key.Reveal()}, prk.RevealMutable().data());
  size_t done = 0;
  for (uint8_t i = 1; ok && done < length; ++i) {
    const absl::Span<const uint8_t> previous =
        i == 1 ? absl::Span<const uint8_t>() : block.Reveal();
    ok = Hmac(ctx, prk.Reveal(), {previous, info_bytes, absl::MakeConstSpan(&i, 1)},
              block.RevealMutable().data());
    const size_t take = std::min(kHashSize, length - done);
    std::copy_n(block.Reveal().begin(), take, out.RevealMutable().begin() + done);
    done += take;
  }
  // The context keeps the HMAC state of the last key it was given: keyed
  // with zeros, so that nothing derived from `key` stays in it between calls.
  EVP_MAC_init(ctx, kZeros.data(), kZeros.size(), nullptr);
  if (!ok) return Internal("hkdf-sha256 failed in OpenSSL");
  return out;
}

}  // namespace keybroker::crypto
