#include "bench/raw_aes_gcm.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace keybroker::bench {
namespace {

const uint8_t* Bytes(absl::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }
uint8_t* MutableBytes(std::string& s) { return reinterpret_cast<uint8_t*>(s.data()); }

}  // namespace

RawAesGcm::RawAesGcm(absl::string_view key) : ctx_(EVP_CIPHER_CTX_new()) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (ctx_ == nullptr || cipher == nullptr || key.size() != 32 ||
      EVP_CipherInit_ex2(ctx_, cipher, Bytes(key), nullptr, 1, nullptr) != 1) {
    std::fprintf(stderr, "raw_aes_gcm: cannot set up AES-256-GCM\n");
    std::abort();
  }
  EVP_CIPHER_free(cipher);  // the context holds its own reference
}

RawAesGcm::~RawAesGcm() { EVP_CIPHER_CTX_free(ctx_); }

bool RawAesGcm::Seal(absl::string_view plaintext, absl::string_view aad, std::string& out) {
  if (nonces_left_ == 0) {
    if (RAND_bytes(nonces_, sizeof(nonces_)) != 1) return false;
    nonces_left_ = kNoncesPerDraw;
  }
  const uint8_t* nonce = nonces_ + kNonceSize * --nonces_left_;
  out.resize(kNonceSize + plaintext.size() + kTagSize);
  uint8_t* p = MutableBytes(out);
  std::copy(nonce, nonce + kNonceSize, p);
  int len = 0;
  int final_len = 0;
  return EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, 1, nullptr) == 1 &&
         EVP_CipherUpdate(ctx_, nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
         EVP_CipherUpdate(ctx_, p + kNonceSize, &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) == 1 &&
         EVP_CipherFinal_ex(ctx_, p + kNonceSize + len, &final_len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, kTagSize,
                             p + kNonceSize + plaintext.size()) == 1;
}

bool RawAesGcm::Open(absl::string_view sealed, absl::string_view aad, std::string& out) {
  if (sealed.size() < kNonceSize + kTagSize) return false;
  const size_t size = sealed.size() - kNonceSize - kTagSize;
  out.resize(size);
  const uint8_t* in = Bytes(sealed);
  int len = 0;
  int final_len = 0;
  return EVP_CipherInit_ex2(ctx_, nullptr, nullptr, in, 0, nullptr) == 1 &&
         EVP_CipherUpdate(ctx_, nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
         EVP_CipherUpdate(ctx_, MutableBytes(out), &len, in + kNonceSize, static_cast<int>(size)) ==
             1 &&
         EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, kTagSize,
                             const_cast<uint8_t*>(in + kNonceSize + size)) == 1 &&
         EVP_CipherFinal_ex(ctx_, MutableBytes(out) + len, &final_len) == 1;
}

}  // namespace keybroker::bench
