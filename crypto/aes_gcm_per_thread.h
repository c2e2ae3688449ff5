// AesGcmPerThread: AES-256-GCM under one key, used by many threads, each
// with a cipher context of its own keyed once (AesGcmKeyed): per record only
// the nonce is set, and threads write no shared cache line.
//
// The contexts live in a fixed array of slots, one per thread index
// (common/thread_slots.h), made on first use. A thread whose slot another
// thread holds (more threads than slots) seals or opens the one-shot way
// (AesGcm, a key schedule per call): slower, never wrong. The array is
// allocated on the first Seal or Open, so an object that is never used costs
// a pointer. The contexts (key schedules) are wiped when the object goes.
//
// Thread-safe. The key must outlive the object and not change.
#ifndef KEYBROKER_CRYPTO_AES_GCM_PER_THREAD_H_
#define KEYBROKER_CRYPTO_AES_GCM_PER_THREAD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/thread_slots.h"
#include "crypto/aes_gcm.h"
#include "crypto/secret_bytes.h"

namespace keybroker::crypto {

class AesGcmPerThread {
 public:
  explicit AesGcmPerThread(const SecretBytes& key) : key_(key) {}
  ~AesGcmPerThread();
  AesGcmPerThread(const AesGcmPerThread&) = delete;
  AesGcmPerThread& operator=(const AesGcmPerThread&) = delete;

  // As AesGcm::SealWithAadParts and OpenWithAadParts under the key.
  absl::Status SealWithAadParts(absl::Span<const uint8_t> nonce,
                                absl::Span<const uint8_t> plaintext,
                                std::initializer_list<absl::Span<const uint8_t>> aad_parts,
                                absl::Span<uint8_t> ciphertext, absl::Span<uint8_t> tag) const;
  absl::Status OpenWithAadParts(absl::Span<const uint8_t> nonce,
                                absl::Span<const uint8_t> ciphertext,
                                std::initializer_list<absl::Span<const uint8_t>> aad_parts,
                                absl::Span<const uint8_t> tag, absl::Span<uint8_t> plaintext) const;

 private:
  static constexpr size_t kSlots = 16;
  // A cache line each, so that threads on neighbouring slots do not share one.
  struct alignas(64) Slot {
    std::atomic<bool> held{false};
    std::unique_ptr<AesGcmKeyed> cipher;  // made on the slot's first use
  };

  // Returns this thread's slot, held, with its cipher made; or nullptr when
  // another thread holds it or OpenSSL cannot make the cipher (the slot is
  // then not held).
  Slot* Hold() const;
  static void Release(Slot* slot) { slot->held.store(false, std::memory_order_release); }

  const SecretBytes& key_;
  mutable std::atomic<Slot*> slots_{nullptr};  // kSlots of them once used
};

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_AES_GCM_PER_THREAD_H_
