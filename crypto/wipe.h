// Wiping std::string buffers that held secrets.
//
// SecretBytes is where key material should live, but protobuf messages, PEM
// options and JSON hand it over in plain std::string; the code that copies a
// secret out of such a string erases the string with these. OPENSSL_cleanse
// is used because the compiler may drop a memset on a buffer about to die.
//
// Stateless; a ScopedWipe belongs to one thread like the string it guards.
#ifndef KEYBROKER_CRYPTO_WIPE_H_
#define KEYBROKER_CRYPTO_WIPE_H_

#include <openssl/crypto.h>

#include <string>

namespace keybroker::crypto {

// Overwrites the bytes of `secret` and empties it.
inline void WipeString(std::string* secret) {
  if (!secret->empty()) OPENSSL_cleanse(secret->data(), secret->size());
  secret->clear();
}

// Wipes a string when the scope ends, whichever way it ends. `secret` must
// outlive the guard.
class ScopedWipe {
 public:
  explicit ScopedWipe(std::string* secret) : secret_(secret) {}
  ~ScopedWipe() { WipeString(secret_); }
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;

 private:
  std::string* secret_;
};

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_WIPE_H_
