#include "crypto/hmac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/error_reason.h"

namespace keybroker::crypto {

absl::StatusOr<Sha256Digest> HmacSha256(const SecretBytes& key, absl::Span<const uint8_t> data) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.Reveal().data(), static_cast<int>(key.size()), data.data(),
           data.size(), out.data(), &len) == nullptr ||
      len != out.size()) {
    return Internal("hmac-sha256 failed in OpenSSL");
  }
  return out;
}

Sha256Digest Sha256(absl::Span<const uint8_t> data) {
  Sha256Digest out{};
  EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha256(), nullptr);
  return out;
}

}  // namespace keybroker::crypto
