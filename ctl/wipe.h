// Wiping strings that held key material (plaintext DEKs, private keys).
//
// keybrokerctl keeps secrets in plain std::string because that is what
// protobuf and nlohmann::json hand it; this is the one way it erases them.
#ifndef KEYBROKER_CTL_WIPE_H_
#define KEYBROKER_CTL_WIPE_H_

#include <openssl/crypto.h>

#include <string>

namespace keybroker::ctl {

// Overwrites the bytes of `secret` with OPENSSL_cleanse (which the compiler
// may not elide, unlike memset on a dying buffer) and empties it.
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

}  // namespace keybroker::ctl

#endif  // KEYBROKER_CTL_WIPE_H_
