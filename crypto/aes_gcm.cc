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

using AadParts = std::initializer_list<absl::Span<const uint8_t>>;

bool SizesFit(absl::Span<const uint8_t> nonce, size_t in, size_t out, AadParts aad_parts) {
  for (absl::Span<const uint8_t> part : aad_parts) {
    if (part.size() > INT_MAX) return false;
  }
  return !nonce.empty() && nonce.size() <= kMaxNonceSize && in == out && in <= INT_MAX;
}

// Initialises `ctx` for AES-256-GCM with key and nonce, and feeds the aad.
bool Begin(EVP_CIPHER_CTX* ctx, int encrypt, const SecretBytes& key,
           absl::Span<const uint8_t> nonce, AadParts aad_parts) {
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
  for (absl::Span<const uint8_t> part : aad_parts) {
    int len = 0;
    if (!part.empty() &&
        EVP_CipherUpdate(ctx, nullptr, &len, part.data(), static_cast<int>(part.size())) != 1) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status AesGcm::Seal(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                          absl::Span<const uint8_t> plaintext, absl::Span<const uint8_t> aad,
                          absl::Span<uint8_t> ciphertext, absl::Span<uint8_t> tag) {
  return SealWithAadParts(key, nonce, plaintext, {aad}, ciphertext, tag);
}

absl::Status AesGcm::Open(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                          absl::Span<const uint8_t> ciphertext, absl::Span<const uint8_t> aad,
                          absl::Span<const uint8_t> tag, absl::Span<uint8_t> plaintext) {
  return OpenWithAadParts(key, nonce, ciphertext, {aad}, tag, plaintext);
}

absl::Status AesGcm::SealWithAadParts(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                                      absl::Span<const uint8_t> plaintext, AadParts aad_parts,
                                      absl::Span<uint8_t> ciphertext, absl::Span<uint8_t> tag) {
  if (key.size() != kKeySize || tag.size() != kTagSize ||
      !SizesFit(nonce, plaintext.size(), ciphertext.size(), aad_parts)) {
    return absl::InvalidArgumentError("aes-256-gcm: wrong key, nonce, tag or buffer size");
  }
  EVP_CIPHER_CTX* ctx = ThreadContext();
  int len = 0;
  int final_len = 0;
  if (!Begin(ctx, 1, key, nonce, aad_parts) ||
      (!plaintext.empty() && EVP_CipherUpdate(ctx, ciphertext.data(), &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) ||
      EVP_CipherFinal_ex(ctx, ciphertext.data() + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), tag.data()) !=
          1) {
    return absl::InternalError("aes-256-gcm: encryption failed in OpenSSL");
  }
  return absl::OkStatus();
}

absl::Status AesGcm::OpenWithAadParts(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                                      absl::Span<const uint8_t> ciphertext, AadParts aad_parts,
                                      absl::Span<const uint8_t> tag,
                                      absl::Span<uint8_t> plaintext) {
  if (key.size() != kKeySize || tag.size() != kTagSize ||
      !SizesFit(nonce, ciphertext.size(), plaintext.size(), aad_parts)) {
    return absl::InvalidArgumentError("aes-256-gcm: wrong key, nonce, tag or buffer size");
  }
  EVP_CIPHER_CTX* ctx = ThreadContext();
  int len = 0;
  int final_len = 0;
  // EVP wants a mutable tag pointer but only reads it.
  void* tag_ptr = const_cast<uint8_t*>(tag.data());
  bool ok = Begin(ctx, 0, key, nonce, aad_parts) &&
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
