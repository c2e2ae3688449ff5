#include "crypto/aes_gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace keybroker::crypto {
namespace {

constexpr size_t kMaxNonceSize = 64;
constexpr size_t kMaxJoinedAad = 512;

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

// Sets the key (unless null: already set) and nonce of `ctx`, whose cipher
// is set and whose nonce length is `*nonce_size`, and feeds the aad: what
// every record needs before its data.
bool Begin(EVP_CIPHER_CTX* ctx, int encrypt, const SecretBytes* key, size_t* nonce_size,
           absl::Span<const uint8_t> nonce, AadParts aad_parts) {
  // The nonce length is a setting of the context; set it only when it changes.
  if (nonce.size() != *nonce_size) {
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nullptr, encrypt, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) !=
            1) {
      return false;
    }
    *nonce_size = nonce.size();
  }
  const uint8_t* key_bytes = key != nullptr ? key->Reveal().data() : nullptr;
  if (EVP_CipherInit_ex2(ctx, nullptr, key_bytes, nonce.data(), encrypt, nullptr) != 1) {
    return false;
  }
  // Small aad in pieces is fed as one: each EVP_CipherUpdate costs more than
  // copying a few hundred bytes (the SDK's header and the caller's aad).
  size_t total = 0;
  for (absl::Span<const uint8_t> part : aad_parts) total += part.size();
  uint8_t joined[kMaxJoinedAad];
  if (aad_parts.size() > 1 && total <= sizeof(joined)) {
    uint8_t* end = joined;
    for (absl::Span<const uint8_t> part : aad_parts) end = std::copy(part.begin(), part.end(), end);
    int len = 0;
    return total == 0 || EVP_CipherUpdate(ctx, nullptr, &len, joined, static_cast<int>(total)) == 1;
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

// Encrypts `plaintext` into `ciphertext` and writes the tag, after Begin.
bool SealRest(EVP_CIPHER_CTX* ctx, absl::Span<const uint8_t> plaintext,
              absl::Span<uint8_t> ciphertext, absl::Span<uint8_t> tag) {
  int len = 0;
  int final_len = 0;
  return (plaintext.empty() || EVP_CipherUpdate(ctx, ciphertext.data(), &len, plaintext.data(),
                                                static_cast<int>(plaintext.size())) == 1) &&
         EVP_CipherFinal_ex(ctx, ciphertext.data() + len, &final_len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(AesGcm::kTagSize),
                             tag.data()) == 1;
}

// Decrypts `ciphertext` into `plaintext` and verifies `tag`, after Begin.
bool OpenRest(EVP_CIPHER_CTX* ctx, absl::Span<const uint8_t> ciphertext,
              absl::Span<const uint8_t> tag, absl::Span<uint8_t> plaintext) {
  int len = 0;
  int final_len = 0;
  // EVP wants a mutable tag pointer but only reads it.
  void* tag_ptr = const_cast<uint8_t*>(tag.data());
  return (ciphertext.empty() || EVP_CipherUpdate(ctx, plaintext.data(), &len, ciphertext.data(),
                                                 static_cast<int>(ciphertext.size())) == 1) &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(AesGcm::kTagSize),
                             tag_ptr) == 1 &&
         EVP_CipherFinal_ex(ctx, plaintext.data() + len, &final_len) == 1;
}

absl::Status WrongSizes() {
  return absl::InvalidArgumentError("aes-256-gcm: wrong key, nonce, tag or buffer size");
}

absl::Status SealFailed() {
  return absl::InternalError("aes-256-gcm: encryption failed in OpenSSL");
}

// Nothing unverified is left behind.
absl::Status OpenFailed(absl::Span<uint8_t> plaintext) {
  if (!plaintext.empty()) OPENSSL_cleanse(plaintext.data(), plaintext.size());
  return absl::InvalidArgumentError("aes-256-gcm: authentication failed");
}

// Sets the cipher of the thread's context for a one-shot call.
bool SetCipher(EVP_CIPHER_CTX* ctx, int encrypt) {
  const EVP_CIPHER* cipher = Aes256Gcm();
  return ctx != nullptr && cipher != nullptr &&
         EVP_CipherInit_ex2(ctx, cipher, nullptr, nullptr, encrypt, nullptr) == 1;
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
    return WrongSizes();
  }
  EVP_CIPHER_CTX* ctx = ThreadContext();
  size_t nonce_size = AesGcm::kNonceSize;  // SetCipher starts from the default
  if (!SetCipher(ctx, 1) || !Begin(ctx, 1, &key, &nonce_size, nonce, aad_parts) ||
      !SealRest(ctx, plaintext, ciphertext, tag)) {
    return SealFailed();
  }
  return absl::OkStatus();
}

absl::Status AesGcm::OpenWithAadParts(const SecretBytes& key, absl::Span<const uint8_t> nonce,
                                      absl::Span<const uint8_t> ciphertext, AadParts aad_parts,
                                      absl::Span<const uint8_t> tag,
                                      absl::Span<uint8_t> plaintext) {
  if (key.size() != kKeySize || tag.size() != kTagSize ||
      !SizesFit(nonce, ciphertext.size(), plaintext.size(), aad_parts)) {
    return WrongSizes();
  }
  EVP_CIPHER_CTX* ctx = ThreadContext();
  size_t nonce_size = AesGcm::kNonceSize;  // SetCipher starts from the default
  if (!SetCipher(ctx, 0) || !Begin(ctx, 0, &key, &nonce_size, nonce, aad_parts) ||
      !OpenRest(ctx, ciphertext, tag, plaintext)) {
    return OpenFailed(plaintext);
  }
  return absl::OkStatus();
}

std::unique_ptr<AesGcmKeyed> AesGcmKeyed::Create(const SecretBytes& key) {
  const EVP_CIPHER* cipher = Aes256Gcm();
  if (key.size() != AesGcm::kKeySize || cipher == nullptr) return nullptr;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return nullptr;
  if (EVP_CipherInit_ex2(ctx, cipher, key.Reveal().data(), nullptr, 1, nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }
  return std::unique_ptr<AesGcmKeyed>(new AesGcmKeyed(ctx));
}

// EVP_CIPHER_CTX_free wipes the context, the key schedule with it.
AesGcmKeyed::~AesGcmKeyed() { EVP_CIPHER_CTX_free(ctx_); }

absl::Status AesGcmKeyed::SealWithAadParts(absl::Span<const uint8_t> nonce,
                                           absl::Span<const uint8_t> plaintext, AadParts aad_parts,
                                           absl::Span<uint8_t> ciphertext,
                                           absl::Span<uint8_t> tag) {
  if (tag.size() != AesGcm::kTagSize ||
      !SizesFit(nonce, plaintext.size(), ciphertext.size(), aad_parts)) {
    return WrongSizes();
  }
  // Direction and nonce change; the key schedule stays (GCM uses the
  // forward cipher both ways).
  if (!Begin(ctx_, 1, nullptr, &nonce_size_, nonce, aad_parts) ||
      !SealRest(ctx_, plaintext, ciphertext, tag)) {
    return SealFailed();
  }
  return absl::OkStatus();
}

absl::Status AesGcmKeyed::OpenWithAadParts(absl::Span<const uint8_t> nonce,
                                           absl::Span<const uint8_t> ciphertext, AadParts aad_parts,
                                           absl::Span<const uint8_t> tag,
                                           absl::Span<uint8_t> plaintext) {
  if (tag.size() != AesGcm::kTagSize ||
      !SizesFit(nonce, ciphertext.size(), plaintext.size(), aad_parts)) {
    return WrongSizes();
  }
  if (!Begin(ctx_, 0, nullptr, &nonce_size_, nonce, aad_parts) ||
      !OpenRest(ctx_, ciphertext, tag, plaintext)) {
    return OpenFailed(plaintext);
  }
  return absl::OkStatus();
}

}  // namespace keybroker::crypto
