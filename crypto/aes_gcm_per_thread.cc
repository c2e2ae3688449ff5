#include "crypto/aes_gcm_per_thread.h"

#include "common/thread_slots.h"

namespace keybroker::crypto {

AesGcmPerThread::~AesGcmPerThread() { delete[] slots_.load(std::memory_order_acquire); }

AesGcmPerThread::Slot* AesGcmPerThread::Hold() const {
  Slot* slots = slots_.load(std::memory_order_acquire);
  if (slots == nullptr) {
    // First use: install an array; a thread that loses the race drops its own.
    auto fresh = std::make_unique<Slot[]>(kSlots);
    if (slots_.compare_exchange_strong(slots, fresh.get(), std::memory_order_acq_rel)) {
      slots = fresh.release();
    }
  }
  Slot* slot = &slots[ThisThreadIndex() % kSlots];
  if (!TryHoldSlot(slot->held)) return nullptr;
  if (slot->cipher == nullptr) slot->cipher = AesGcmKeyed::Create(key_);
  if (slot->cipher == nullptr) {
    Release(slot);
    return nullptr;
  }
  return slot;
}

absl::Status AesGcmPerThread::SealWithAadParts(
    absl::Span<const uint8_t> nonce, absl::Span<const uint8_t> plaintext,
    std::initializer_list<absl::Span<const uint8_t>> aad_parts, absl::Span<uint8_t> ciphertext,
    absl::Span<uint8_t> tag) const {
  Slot* slot = Hold();
  if (slot == nullptr) {
    return AesGcm::SealWithAadParts(key_, nonce, plaintext, aad_parts, ciphertext, tag);
  }
  absl::Status sealed =
      slot->cipher->SealWithAadParts(nonce, plaintext, aad_parts, ciphertext, tag);
  Release(slot);
  return sealed;
}

absl::Status AesGcmPerThread::OpenWithAadParts(
    absl::Span<const uint8_t> nonce, absl::Span<const uint8_t> ciphertext,
    std::initializer_list<absl::Span<const uint8_t>> aad_parts, absl::Span<const uint8_t> tag,
    absl::Span<uint8_t> plaintext) const {
  Slot* slot = Hold();
  if (slot == nullptr) {
    return AesGcm::OpenWithAadParts(key_, nonce, ciphertext, aad_parts, tag, plaintext);
  }
  absl::Status opened =
      slot->cipher->OpenWithAadParts(nonce, ciphertext, aad_parts, tag, plaintext);
  Release(slot);
  return opened;
}

}  // namespace keybroker::crypto
