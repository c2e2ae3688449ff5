#include "crypto/aes_gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>

namespace keybroker::crypto {
namespace {

constexpr size_t kMaxNonceSize = 64;

// Explicitly fetched once: OpenSSL 3's implicit fetch through EVP_aes_256_gcm()
// costs a provider look-up on every init.
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

// One context per thread, re-initialised for every call: no allocation on the
// hot path and no sharing between threads.
EVP_CIPHER_CTX* ThreadContext() {
  thread_local std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

bool SizesFit(absl::Span<const uint8_t> nonce, size_t in, size_t out, size_t aad) {
  return !nonce.empty() && nonce.size() <= kMaxNonceSize && in == out && in <= INT_MAX &&
         aad <= INT_MAX;
}

// Initialises `ctx` for AES-256-GCM with key and nonce, and feeds the aad.
bool Begin(EVP_CIPHER_CTX* ctx, int encrypt, const SecretBytes& key,
           absl::Span<const uint8_t> nonce, absl::Span<const uint8_t> aad) {
  const EVP_CIPHER* cipher = Aes256Gcm();
  if (ctx == nullptr || cipher == nullptr) return false;
  if (EVP_CipherInit_ex2(ctx, cipher, nullptr, nullptr, encrypt, nullptr) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()),
                          nullptr) != 1) {
    return false;
  }
  if (EVP_CipherInit_ex2(ctx, nullptr, key.Reveal().data(), nonce.data(), encrypt, nullptr) !=
      1) {
    return false;
  }
  int len = 0;
  return aad.empty() ||
         EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1;
}

}  // namespace

absl::Status AesGcm::Seal(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                          absl::Span<const uint8_t> plaintext, absl::Span<const uint8_t> aad,
                          absl::Span<uint8_t> ciphertext, absl::Span<uint8_t> tag) {
  if (key.size() != kKeySize || tag.size() != kTagSize ||
      !SizesFit(nonce, plaintext.size(), ciphertext.size(), aad.size())) {
    return absl::InvalidArgumentError("aes-256-gcm: wrong key, nonce, tag or buffer size");
  }
  EVP_CIPHER_CTX* ctx = ThreadContext();
  int len = 0;
  int final_len = 0;
  if (!Begin(ctx, 1, key, nonce, aad) ||
      (!plaintext.empty() && EVP_CipherUpdate(ctx, ciphertext.data(), &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) ||
      EVP_CipherFinal_ex(ctx, ciphertext.data() + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), tag.data()) !=
          1) {
    return absl::InternalError("aes-256-gcm: encryption failed in OpenSSL");
  }
  return absl::OkStatus();
}

absl::Status AesGcm::Open(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                          absl::Span<const uint8_t> ciphertext, absl::Span<const uint8_t> aad,
                          absl::Span<const uint8_t> tag, absl::Span<uint8_t> plaintext) {
  if (key.size() != kKeySize || tag.size() != kTagSize ||
      !SizesFit(nonce, ciphertext.size(), plaintext.size(), aad.size())) {
    return absl::InvalidArgumentError("aes-256-gcm: wrong key, nonce, tag or buffer size");
  }
  EVP_CIPHER_CTX* ctx = ThreadContext();
  int len = 0;
  int final_len = 0;
  // EVP wants a mutable tag pointer but only reads it.
  void* tag_ptr = const_cast<uint8_t*>(tag.data());
  bool ok = Begin(ctx, 0, key, nonce, aad) &&
            (ciphertext.empty() ||
             EVP_CipherUpdate(ctx, plaintext.data(), &len, ciphertext.data(),
                              static_cast<int>(ciphertext.size())) == 1) &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                                tag_ptr) == 1 &&
            EVP_CipherFinal_ex(ctx, plaintext.data() + len, &final_len) == 1;
  if (!ok) {
    if (!plaintext.empty()) OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::InvalidArgumentError("aes-256-gcm: authentication failed");
  }
  return absl::OkStatus();
}

}  // namespace keybroker::crypto
