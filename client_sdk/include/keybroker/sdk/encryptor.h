// Encryptor: local envelope encryption with DEKs from the broker.
//
// Encrypt(key alias, plaintext, aad) seals with AES-256-GCM under a cached
// DEK of that alias and returns a self-describing ciphertext (format byte,
// EDEK, nonce, ciphertext, tag; docs/ciphertext-format.md describes it byte
// by byte). Decrypt(ciphertext, aad) unwraps the EDEK through the broker (or
// a bounded decrypt-side cache) and opens it.
//
// DEK reuse is bounded by a number of encryptions (never above 2^32, the
// random 96-bit nonce limit) and by age. A replacement DEK is fetched in the
// background before the current one runs out, so once warm an Encrypt never
// waits on the broker; concurrent misses for one alias share one broker
// call. DEKs are zeroed when evicted. When the broker is unreachable and the
// cached DEK is used up, Encrypt fails with the broker's error; it never
// returns plaintext.
//
// Safe for concurrent use.
#ifndef KEYBROKER_SDK_ENCRYPTOR_H_
#define KEYBROKER_SDK_ENCRYPTOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keybroker/sdk/dek_source.h"

namespace keybroker::sdk {

struct EncryptorOptions {
  uint64_t max_encryptions_per_dek = uint64_t{1} << 24;  // capped at 2^32
  absl::Duration max_dek_age = absl::Hours(1);
  // Fetch the next DEK when this fraction of either budget is used.
  double refresh_at = 0.75;
  size_t decrypt_cache_entries = 10000;
  absl::Duration decrypt_cache_ttl = absl::Minutes(5);
  // The encryption context every DEK of this Encryptor is bound to.
  Context dek_context;
};

class Encryptor {
 public:
  // `source` must outlive the Encryptor. INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Encryptor>> Create(DekSource* source,
                                                           EncryptorOptions options);
  ~Encryptor();

  // Returns the ciphertext of `plaintext`, authenticated with `aad`.
  absl::StatusOr<std::string> Encrypt(absl::string_view key_alias, absl::string_view plaintext,
                                      absl::string_view aad);

  // Returns the plaintext, or INVALID_ARGUMENT (reason EDEK_INVALID) when the
  // ciphertext is malformed, tampered with, or `aad` differs; the broker's
  // errors (KEY_NOT_ACCESSIBLE...) as they are.
  absl::StatusOr<std::string> Decrypt(absl::string_view ciphertext, absl::string_view aad);

 private:
  class Impl;
  explicit Encryptor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_ENCRYPTOR_H_
