// SecretBytes owns key material (DEKs, KEKs, master keys).
//
// Invariants: the bytes are wiped with OPENSSL_cleanse when the object is
// destroyed, moved from or assigned over; the type is move-only (copies are
// explicit, through Clone()); it has no stream or JSON conversion, so logging
// one does not compile. The raw bytes are reachable only through Reveal() /
// RevealMutable(), which are easy to grep for.
//
// Not synchronized: share a const SecretBytes between threads only while no
// thread mutates it.
#ifndef KEYBROKER_CRYPTO_SECRET_BYTES_H_
#define KEYBROKER_CRYPTO_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace keybroker::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  // Makes `size` zero bytes, to be filled through RevealMutable().
  explicit SecretBytes(size_t size);
  // Copies `bytes` into a new secret. The caller wipes its own copy.
  static SecretBytes CopyFrom(absl::Span<const uint8_t> bytes);
  static SecretBytes CopyFrom(absl::string_view bytes);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The raw bytes. Every use is a place where a secret leaves the type.
  absl::Span<const uint8_t> Reveal() const { return {data_, size_}; }
  absl::Span<uint8_t> RevealMutable() { return {data_, size_}; }
  absl::string_view RevealAsStringView() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }

  // Returns a deliberate copy.
  SecretBytes Clone() const;

  // Compares in time that depends only on the sizes.
  bool ConstantTimeEquals(const SecretBytes& other) const;

  // Wipes and releases the bytes; size() becomes 0.
  void Clear();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_SECRET_BYTES_H_
