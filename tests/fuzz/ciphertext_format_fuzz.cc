// libFuzzer target for the SDK's ciphertext format (client_sdk/src/
// ciphertext_format.h, docs/ciphertext-format.md) and Encryptor::Decrypt,
// which reads it from storage or the network. The input is a ciphertext.
//
// Invariants:
// - ParseCiphertext accepts exactly what the documented decoder steps 1-4
//   accept, and otherwise answers INVALID_ARGUMENT / EDEK_INVALID;
// - its parts tile the input (header, encrypted, tag; EDEK and nonce inside
//   the header), and LayOutCiphertext for that EDEK and size writes the same
//   header bytes: parse then lay out is the identity;
// - Decrypt succeeds only for a ciphertext that Seal under the EDEK's DEK,
//   the input's nonce and the same aad re-creates byte for byte; every
//   failure is EDEK_INVALID, but for the DEK source's own error, passed on.
#include <cstdint>
#include <cstring>
#include <memory>

#include "client_sdk/src/ciphertext_format.h"
#include "crypto/aes_gcm.h"
#include "keybroker/sdk/encryptor.h"
#include "tests/fuzz/fuzz_support.h"

namespace keybroker::fuzz {
namespace {

using sdk::internal::CiphertextParts;

// Steps 1-4 of docs/ciphertext-format.md "Decryption", from the page.
bool DocumentedDecoderAccepts(absl::string_view input) {
  if (input.size() < 3 || static_cast<uint8_t>(input[0]) != 0x01) return false;
  size_t edek_size = size_t{static_cast<uint8_t>(input[1])} * 256 + static_cast<uint8_t>(input[2]);
  return edek_size >= 1 && input.size() >= 31 + edek_size;
}

bool IsEdekInvalid(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument &&
         ReasonOf(status) == ErrorReason::kEdekInvalid;
}

void CheckParts(absl::string_view input, const CiphertextParts& parts) {
  const uint8_t* begin = reinterpret_cast<const uint8_t*>(input.data());
  FUZZ_CHECK(parts.header.data() == begin && parts.header.size() == 15 + parts.edek.size());
  FUZZ_CHECK(parts.edek.data() == input.data() + 3 && !parts.edek.empty());
  FUZZ_CHECK(parts.nonce.data() == begin + 3 + parts.edek.size() && parts.nonce.size() == 12);
  FUZZ_CHECK(parts.encrypted.data() == begin + parts.header.size());
  FUZZ_CHECK(parts.tag.data() == parts.encrypted.data() + parts.encrypted.size() &&
             parts.tag.size() == 16);
  FUZZ_CHECK(parts.header.size() + parts.encrypted.size() + parts.tag.size() == input.size());

  std::string laid_out;
  absl::StatusOr<sdk::internal::CiphertextSlots> slots =
      sdk::internal::LayOutCiphertext(parts.edek, parts.encrypted.size(), laid_out);
  FUZZ_CHECK(slots.ok(), slots.status().ToString());
  FUZZ_CHECK(laid_out.size() == input.size());
  const size_t fixed = parts.header.size() - parts.nonce.size();  // format, length, EDEK
  FUZZ_CHECK(std::memcmp(laid_out.data(), input.data(), fixed) == 0);
  FUZZ_CHECK(slots->nonce.size() == 12 && slots->tag.size() == 16 &&
             slots->encrypted.size() == parts.encrypted.size());
}

// Seals `plaintext` as Encrypt would have, with the input's own nonce.
std::string Reseal(const CiphertextParts& parts, absl::string_view plaintext) {
  crypto::SecretBytes dek = DerivedDekSource::DekOf(parts.edek, FuzzDekContext());
  std::string sealed(parts.header.begin(), parts.header.end());
  sealed.resize(parts.header.size() + plaintext.size() + 16);
  absl::Span<uint8_t> out = crypto::AsMutableBytes(sealed);
  absl::Status status = crypto::AesGcm::SealWithAadParts(
      dek, parts.nonce, crypto::AsBytes(plaintext), {parts.header, crypto::AsBytes(kCiphertextAad)},
      out.subspan(parts.header.size(), plaintext.size()),
      out.subspan(parts.header.size() + plaintext.size()));
  FUZZ_CHECK(status.ok(), status.ToString());
  return sealed;
}

sdk::Encryptor& TheEncryptor() {
  static DerivedDekSource* const source = new DerivedDekSource();
  static sdk::Encryptor* const encryptor = [] {
    sdk::EncryptorOptions options;
    options.dek_context = FuzzDekContext();
    options.decrypt_cache_entries = 0;  // every input unwraps: no state between inputs
    return sdk::Encryptor::Create(source, options).value().release();
  }();
  return *encryptor;
}

void TestOneInput(absl::string_view input) {
  absl::StatusOr<sdk::internal::CiphertextParts> parts = sdk::internal::ParseCiphertext(input);
  FUZZ_CHECK(parts.ok() == DocumentedDecoderAccepts(input), parts.status().ToString());
  if (parts.ok()) {
    CheckParts(input, *parts);
  } else {
    FUZZ_CHECK(IsEdekInvalid(parts.status()), parts.status().ToString());
  }

  absl::StatusOr<std::string> plaintext = TheEncryptor().Decrypt(input, kCiphertextAad);
  if (plaintext.ok()) {
    FUZZ_CHECK(parts.ok());
    FUZZ_CHECK(Reseal(*parts, *plaintext) == input, "decrypted, but does not re-seal to the input");
    return;
  }
  const absl::Status& error = plaintext.status();
  if (parts.ok() && DerivedDekSource::IsRevoked(parts->edek)) {
    // The source's refusal, as it gave it (a record that can heal).
    FUZZ_CHECK(ReasonOf(error) == ErrorReason::kKeyNotAccessible, error.ToString());
  } else {
    FUZZ_CHECK(IsEdekInvalid(error), error.ToString());
  }
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::TestOneInput(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
