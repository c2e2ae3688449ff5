// The baseline the SDK's Encrypt and Decrypt are held against: the fastest
// correct use of OpenSSL's EVP AES-256-GCM this machine allows. One cipher
// context per thread with the key set once; per record only the nonce is set
// (nonces drawn from the CSPRNG 64 at a time), the aad fed, the record sealed
// into a reused buffer and the tag read. Nothing is allocated per record.
//
// One RawAesGcm per thread; not shareable.
#ifndef KEYBROKER_BENCH_RAW_AES_GCM_H_
#define KEYBROKER_BENCH_RAW_AES_GCM_H_

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace keybroker::bench {

class RawAesGcm {
 public:
  // `key` is 32 bytes. Aborts if OpenSSL cannot set up the context (a
  // benchmark has nothing sensible to measure then).
  explicit RawAesGcm(absl::string_view key);
  ~RawAesGcm();
  RawAesGcm(const RawAesGcm&) = delete;
  RawAesGcm& operator=(const RawAesGcm&) = delete;

  // Seals `plaintext` with `aad` under a fresh random nonce into `out`
  // (nonce | ciphertext | tag), reusing its capacity. Returns false if
  // OpenSSL fails.
  bool Seal(absl::string_view plaintext, absl::string_view aad, std::string& out);

  // Opens what Seal wrote into `out`. Returns false if it does not verify.
  bool Open(absl::string_view sealed, absl::string_view aad, std::string& out);

 private:
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;
  static constexpr size_t kNoncesPerDraw = 64;

  EVP_CIPHER_CTX* ctx_;
  uint8_t nonces_[kNonceSize * kNoncesPerDraw];
  size_t nonces_left_ = 0;
};

}  // namespace keybroker::bench

#endif  // KEYBROKER_BENCH_RAW_AES_GCM_H_
