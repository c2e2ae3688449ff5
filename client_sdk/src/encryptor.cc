// Encryptor: ties the DEK budgets (encryption_keys), the decrypt-side cache
// (decrypt_cache) and the ciphertext layout (ciphertext_format) to AES-GCM.
#include "keybroker/sdk/encryptor.h"

#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client_sdk/src/ciphertext_format.h"
#include "client_sdk/src/decrypt_cache.h"
#include "client_sdk/src/encryption_keys.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/aes_gcm.h"
#include "crypto/bytes.h"
#include "crypto/random.h"

namespace keybroker::sdk {

using crypto::AesGcm;
using crypto::AsBytes;

// What AesGcm (OpenSSL's int lengths) can encrypt in one call.
constexpr size_t kMaxPlaintextSize = INT_MAX;

class Encryptor::Impl {
 public:
  Impl(DekSource* source, const EncryptorOptions& options, internal::DekBudget budget,
       const Clock* clock)
      : source_(source),
        context_(options.dek_context),
        clock_(clock),
        keys_(source, options.dek_context, budget, clock),
        decrypt_cache_(options.decrypt_cache_entries, options.decrypt_cache_ttl) {}

  absl::StatusOr<std::string> Encrypt(absl::string_view key_alias, absl::string_view plaintext,
                                      absl::string_view aad);
  absl::StatusOr<std::string> Decrypt(absl::string_view ciphertext, absl::string_view aad);

 private:
  // Returns the DEK inside `edek`, from the cache or through the source.
  absl::StatusOr<std::shared_ptr<const crypto::SecretBytes>> DekFor(absl::string_view edek);

  DekSource* const source_;
  const Context context_;
  const Clock* const clock_;
  internal::EncryptionKeys keys_;
  internal::DecryptCache decrypt_cache_;
};

absl::StatusOr<std::string> Encryptor::Impl::Encrypt(absl::string_view key_alias,
                                                     absl::string_view plaintext,
                                                     absl::string_view aad) {
  if (key_alias.empty()) return InvalidRequest("encrypt: the key alias is empty");
  if (plaintext.size() > kMaxPlaintextSize) {
    return InvalidRequest(absl::StrCat("encrypt: the plaintext is ", plaintext.size(),
                                       " bytes; at most 2^31 - 1 are supported"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const internal::EncryptionKey> key, keys_.Acquire(key_alias));
  std::string out;
  ASSIGN_OR_RETURN(internal::CiphertextSlots slots,
                   internal::LayOutCiphertext(key->edek, plaintext.size(), out));
  RETURN_IF_ERROR(crypto::FillRandom(slots.nonce));
  // On failure `out` holds no plaintext (Seal writes only ciphertext) and is
  // dropped with the error.
  RETURN_IF_ERROR(AesGcm::SealWithAadParts(key->dek, slots.nonce, AsBytes(plaintext),
                                           {slots.header, AsBytes(aad)}, slots.encrypted,
                                           slots.tag));
  return out;
}

absl::StatusOr<std::string> Encryptor::Impl::Decrypt(absl::string_view ciphertext,
                                                     absl::string_view aad) {
  ASSIGN_OR_RETURN(internal::CiphertextParts parts, internal::ParseCiphertext(ciphertext));
  ASSIGN_OR_RETURN(std::shared_ptr<const crypto::SecretBytes> dek, DekFor(parts.edek));
  std::string plaintext(parts.encrypted.size(), '\0');
  absl::Status opened =
      AesGcm::OpenWithAadParts(*dek, parts.nonce, parts.encrypted, {parts.header, AsBytes(aad)},
                               parts.tag, crypto::AsMutableBytes(plaintext));
  if (opened.code() == absl::StatusCode::kInvalidArgument) {
    return EdekInvalid(
        "decrypt: the ciphertext does not authenticate (wrong aad, or tampered with or "
        "truncated)");
  }
  RETURN_IF_ERROR(opened);
  return plaintext;
}

absl::StatusOr<std::shared_ptr<const crypto::SecretBytes>> Encryptor::Impl::DekFor(
    absl::string_view edek) {
  if (auto cached = decrypt_cache_.Get(edek, clock_->Now())) return cached;
  absl::StatusOr<crypto::SecretBytes> dek = source_->Unwrap(edek, context_);
  if (!dek.ok()) return Annotate(dek.status(), "decrypt: unwrapping the ciphertext's EDEK");
  if (dek->size() != AesGcm::kKeySize) {
    return EdekInvalid(
        absl::StrCat("decrypt: the EDEK holds a ", dek->size(), "-byte key, not a 32-byte DEK"));
  }
  auto shared = std::make_shared<const crypto::SecretBytes>(std::move(*dek));
  decrypt_cache_.Put(edek, shared, clock_->Now());
  return shared;
}

absl::StatusOr<std::unique_ptr<Encryptor>> Encryptor::Create(DekSource* source,
                                                             EncryptorOptions options) {
  if (source == nullptr) return InvalidRequest("encryptor: the DEK source is null");
  if (options.decrypt_cache_ttl < absl::ZeroDuration()) {
    return InvalidRequest("encryptor: decrypt_cache_ttl must not be negative");
  }
  ASSIGN_OR_RETURN(internal::DekBudget budget, internal::DekBudget::FromOptions(options));
  const Clock* clock = options.clock != nullptr ? options.clock : MonotonicClock();
  return std::unique_ptr<Encryptor>(
      new Encryptor(std::make_unique<Impl>(source, options, budget, clock)));
}

Encryptor::Encryptor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Encryptor::~Encryptor() = default;

absl::StatusOr<std::string> Encryptor::Encrypt(absl::string_view key_alias,
                                               absl::string_view plaintext, absl::string_view aad) {
  return impl_->Encrypt(key_alias, plaintext, aad);
}

absl::StatusOr<std::string> Encryptor::Decrypt(absl::string_view ciphertext,
                                               absl::string_view aad) {
  return impl_->Decrypt(ciphertext, aad);
}

}  // namespace keybroker::sdk
